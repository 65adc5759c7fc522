"""The service's resources in moto, driven from this process: what the functional tests and
``make bench`` run the handlers against.

`Cloud` provisions the buckets and queues the local cloud has (`resources.provision`, under
names of its own), publishes a bundle, reads and writes the data bucket, reads the events the
functions put (`event_log`), and plays Lambda's SQS event source mapping one poll at a time: it
receives from the real (moto) queues, hands the messages to a handler as the SQS event of
`lambda_events` and deletes those the handler did not report as failed. API Gateway's events
come from `lambda_events.api_event`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local import lambda_events
from infra.local.event_log import EventLog
from infra.local.resources import LocalResources, ResourceNames, provision
from model_build import bundle


@dataclass
class Cloud:
    s3: Any
    sqs: Any
    resources: LocalResources
    version: str | None = None  # the version `publish_folder` published last
    event_log: EventLog = field(init=False)

    def __post_init__(self) -> None:
        self.event_log = EventLog(self.sqs, self.resources.events.url)

    @classmethod
    def provision(cls, s3, sqs, events, names: ResourceNames | None = None) -> Cloud:
        """The service's buckets and queues, under names no other run uses unless ``names`` says."""
        return cls(s3, sqs, provision(s3, sqs, events, names or ResourceNames.unique()))

    @property
    def model_bucket(self) -> str:
        return self.resources.model_bucket

    @property
    def model_prefix(self) -> str:
        return self.resources.model_prefix

    @property
    def data_bucket(self) -> str:
        return self.resources.data_bucket

    @property
    def jobs_queue_url(self) -> str:
        return self.resources.jobs.url

    @property
    def uploads_queue_url(self) -> str:
        return self.resources.uploads.url

    def finished_events(self, detail_type: str, **detail: Any) -> list[dict[str, Any]]:
        """The events of ``detail_type`` put so far about this cloud's work, with these detail values."""
        return self.event_log.about(detail_type, **detail)

    def function_environment(self) -> dict[str, str]:
        return self.resources.function_environment()

    def queue_arn(self, url: str) -> str:
        for queue in (self.resources.jobs, self.resources.uploads):
            if queue.url == url:
                return queue.arn
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # -- models ----------------------------------------------------------------------------

    def publish_folder(self, models_root: Path) -> str:
        """Publishes the promoted bundle of a local models folder as training would: its data
        files, its card, then the pointer. The published version, also kept on `version`."""
        pointer = bundle.Pointer.from_json((models_root / bundle.POINTER_FILE).read_bytes())
        for name in (*bundle.DATA_FILES, bundle.CARD_FILE):
            path = models_root / pointer.version / name
            if path.is_file():
                self.s3.upload_file(str(path), self.model_bucket, f"{self.model_prefix}{pointer.version}/{name}")
        self.put_model_object(bundle.POINTER_FILE, (models_root / bundle.POINTER_FILE).read_bytes())
        self.version = pointer.version
        return pointer.version

    def get_model_object(self, name: str) -> bytes:
        return self.s3.get_object(Bucket=self.model_bucket, Key=self.model_prefix + name)["Body"].read()

    def put_model_object(self, name: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.model_bucket, Key=self.model_prefix + name, Body=data)

    # -- data ------------------------------------------------------------------------------

    def put_data(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.data_bucket, Key=key, Body=data)

    def get_data(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.data_bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def data_keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.data_bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    # -- the event source mapping ----------------------------------------------------------

    def receive(self, queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"], MessageAttributeNames=["All"]
        )
        return response.get("Messages", [])

    def sqs_event(self, queue_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The event Lambda would pass for these received messages."""
        return lambda_events.sqs_event(messages, self.queue_arn(queue_url))

    def deliver(self, queue_url: str, handler: Callable, context: Any, *, batch_size: int = 10) -> list[dict[str, Any]]:
        """One poll: receives up to ``batch_size`` messages, invokes ``handler`` with them and
        deletes the ones it did not report as failed. The handler's responses, one per call."""
        messages = self.receive(queue_url, batch_size)
        if not messages:
            return []
        response = handler(self.sqs_event(queue_url, messages), context)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [response]

    def drain(
        self, queue_url: str, handler: Callable, context: Any, *, batch_size: int = 10, max_polls: int = 100
    ) -> list[dict[str, Any]]:
        """Polls until the queue is empty (as the event source mapping would)."""
        responses = []
        for _ in range(max_polls):
            delivered = self.deliver(queue_url, handler, context, batch_size=batch_size)
            if not delivered:
                return responses
            responses.extend(delivered)
        raise AssertionError(f"{queue_url} still has messages after {max_polls} polls")
