"""Lambda's SQS event source mapping: polls a queue and invokes a function with batches.

As the mapping does: a long poll, batches of the configured size, at most the configured
number of concurrent invocations, and partial batch responses. Records the function reports
in ``batchItemFailures`` stay in the queue and come back once their visibility lapses; the
others are deleted. A function error (the handler raised, or answered something that is no
batch response) fails the whole batch. SQS itself counts the receives and moves a message to
the dead-letter queue past ``maxReceiveCount``.

One difference, on purpose: a failed record becomes visible again after ``retry_after_seconds``
instead of the queue's whole visibility timeout (six times the function's timeout, half an hour
here), so a retry and a redrive can be watched in seconds.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any

from infra.local import lambda_events
from infra.local.containers import FunctionPool
from infra.local.resources import WorkQueue

logger = logging.getLogger(__name__)

POLL_WAIT_SECONDS = 1  # a short long poll, so that stopping takes at most this long
SQS_MAX_MESSAGES = 10  # the most one ReceiveMessage call returns


class SqsEventSource:
    def __init__(self, sqs, queue: WorkQueue, function: FunctionPool, *, retry_after_seconds: int) -> None:
        self._sqs = sqs
        self._queue = queue
        self._function = function
        self._retry_after = retry_after_seconds
        self._batch_size = queue.settings.batch_size
        self._slots = threading.BoundedSemaphore(function.config.concurrency)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"poller-{function.config.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops polling; invocations already running finish (and settle) in `FunctionPool.close`."""
        self._stopping.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stopping.is_set():
            slots = self._free_slots()
            if not slots:
                continue
            try:
                messages = self._receive(slots * self._batch_size)
            except Exception:
                logger.exception("receiving from %s failed", self._queue.url)
                messages = []
                self._stopping.wait(POLL_WAIT_SECONDS)  # before trying again, as the mapping backs off
            batches = [messages[i : i + self._batch_size] for i in range(0, len(messages), self._batch_size)]
            for _ in range(slots - len(batches)):
                self._slots.release()
            for batch in batches:
                self._function.invoke(self._event(batch)).add_done_callback(
                    lambda future, batch=batch: self._settle(batch, future)
                )

    def _free_slots(self) -> int:
        """Waits (briefly) for one idle slot, then takes every other idle one, up to one receive's worth."""
        if not self._slots.acquire(timeout=POLL_WAIT_SECONDS):
            return 0
        slots = 1
        while slots * self._batch_size < SQS_MAX_MESSAGES and self._slots.acquire(blocking=False):
            slots += 1
        return slots

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue.url,
            MaxNumberOfMessages=min(count, SQS_MAX_MESSAGES),
            WaitTimeSeconds=POLL_WAIT_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return lambda_events.sqs_event(messages, self._queue.arn)

    def _settle(self, batch: list[dict[str, Any]], invocation: Future) -> None:
        try:
            failed = self._failed_ids(batch, invocation)
            done = [message for message in batch if message["MessageId"] not in failed]
            again = [message for message in batch if message["MessageId"] in failed]
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=self._queue.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            if again:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._retry_after}
                        for i, m in enumerate(again)
                    ],
                )
        except Exception:
            # the messages stay invisible until the queue's visibility timeout, as after a lost ack
            logger.exception("settling a batch of %s failed", self._queue.url)
        finally:
            self._slots.release()

    def _failed_ids(self, batch: list[dict[str, Any]], invocation: Future) -> set[str]:
        everything = {message["MessageId"] for message in batch}
        name = self._function.config.function_name
        try:
            response = invocation.result()
        except Exception as error:  # a cancelled invocation too: its records go back
            logger.error("%s failed: %s: %s (the whole batch is retried)", name, type(error).__name__, error)
            return everything
        try:
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        except (TypeError, KeyError):
            logger.error("%s answered no batch response (the whole batch is retried)", name)
            return everything
        if not failed <= everything:
            # Lambda treats an identifier it did not send as a failure of the whole batch
            logger.error("%s reported records it was not given (the whole batch is retried)", name)
            return everything
        return failed
