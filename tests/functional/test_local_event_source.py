"""The local SQS event source mapping against moto: batches, partial batch responses, redrive to
the DLQ, and concurrent invocations up to the function's concurrency."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws

from infra.local.containers import FunctionConfig
from infra.local.event_source import SqsEventSource
from infra.local.process import poll_until
from infra.local.resources import WorkQueue, create_work_queue
from infra.settings import FunctionSettings, QueueSettings

pytestmark = pytest.mark.functional

CONSUMER = FunctionSettings("tests.consumer", memory_mb=128, timeout_seconds=5)


class ThreadedFunction:
    """A `FunctionPool` stand-in that runs ``handler`` in threads of this process."""

    def __init__(self, handler: Callable[[dict], dict], concurrency: int) -> None:
        self.config = FunctionConfig("test", CONSUMER, concurrency)
        self._handler = handler
        self._executor = ThreadPoolExecutor(concurrency)

    def invoke(self, event: dict) -> Future:
        return self._executor.submit(self._handler, event)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs")


def _queue(sqs, *, batch_size: int) -> WorkQueue:
    settings = QueueSettings(consumer=CONSUMER, batch_size=batch_size, max_receive_count=2, max_concurrency=3)
    return create_work_queue(sqs, f"q-{uuid.uuid4().hex[:8]}", settings)


def _run(sqs, queue: WorkQueue, function: ThreadedFunction):
    source = SqsEventSource(sqs, queue, function, retry_after_seconds=0)
    source.start()
    return source


def _dead_letters(sqs, queue: WorkQueue) -> list[str]:
    # visibility 0: looking leaves them there (a DLQ has no redrive of its own to count receives for)
    response = sqs.receive_message(QueueUrl=queue.dead_letter_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [message["Body"] for message in response.get("Messages", [])]


def _in_queue(sqs, queue: WorkQueue) -> int:
    """Messages waiting or in flight, counted without receiving (a receive would count towards the redrive)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_failed_records_are_retried_until_the_dlq_and_the_others_are_delivered_once(sqs):
    queue = _queue(sqs, batch_size=3)
    bodies = ["ok-1", "poison", "ok-2"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    deliveries: list[str] = []

    def handler(event: dict) -> dict:
        records = event["Records"]
        deliveries.extend(record["body"] for record in records)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"]}

    function = ThreadedFunction(handler, concurrency=1)
    source = _run(sqs, queue, function)
    try:
        poll_until(lambda: _dead_letters(sqs, queue) == ["poison"], timeout=20, what="the poison message in the DLQ")
    finally:
        source.stop()
        function.close()

    assert sorted(body for body in deliveries if body != "poison") == ["ok-1", "ok-2"]
    assert deliveries.count("poison") == queue.settings.max_receive_count
    assert _in_queue(sqs, queue) == 0


def test_a_function_error_returns_the_whole_batch_to_the_queue(sqs):
    queue = _queue(sqs, batch_size=2)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    attempts = []

    def handler(event: dict) -> dict:
        attempts.append(sorted(record["body"] for record in event["Records"]))
        if len(attempts) == 1:
            raise RuntimeError("the function crashed")
        return {"batchItemFailures": []}

    function = ThreadedFunction(handler, concurrency=1)
    source = _run(sqs, queue, function)
    try:
        poll_until(lambda: sum(map(len, attempts)) >= 4, timeout=20, what="a second delivery of both messages")
    finally:
        source.stop()
        function.close()

    assert sorted(body for batch in attempts[1:] for body in batch) == ["a", "b"]


def test_batches_run_concurrently_up_to_the_function_concurrency(sqs):
    queue = _queue(sqs, batch_size=1)
    for index in range(6):
        sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(index))
    lock, running, most = threading.Lock(), [0], [0]
    release = threading.Event()

    def handler(event: dict) -> dict:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return {"batchItemFailures": []}

    function = ThreadedFunction(handler, concurrency=3)
    source = _run(sqs, queue, function)
    try:
        poll_until(lambda: running[0] == 3, timeout=20, what="three invocations at once")
        release.set()
        poll_until(lambda: _in_queue(sqs, queue) == 0 and running[0] == 0, timeout=20, what="the queue to drain")
    finally:
        release.set()
        source.stop()
        function.close()

    assert most[0] == 3
