"""What the functional tests of `functions/` drive the handlers with: a moto cloud laid out as
DESIGN.md says, real-shaped Lambda events and a fake Lambda context.

API Gateway and Lambda's SQS event source mapping are not in moto, so `Cloud` plays them: it
builds API Gateway REST proxy events, and receives from the real (moto) queues, hands the
messages to a handler as an SQS event and deletes those the handler did not report as failed.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from model_build import bundle

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "sentiment-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sentiment-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/sentiment-test"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    base64_body: bytes | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload v1); ``body`` is sent as JSON."""
    event = load_event("api_gateway_rest.json")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["resource"] = event["requestContext"]["resourcePath"] = "/jobs/{job_id}" if path.startswith("/jobs/") else path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    if path.startswith("/jobs/"):
        event["pathParameters"] = {"job_id": path.removeprefix("/jobs/")}
    if headers is not None:
        event["headers"].update(headers)
        event["headers"] = {name: value for name, value in event["headers"].items() if value is not None}
    if base64_body is not None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(base64_body).decode(), True
    elif raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    return event


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@dataclass
class Cloud:
    """Buckets and queues in moto, named uniquely for one test."""

    s3: Any
    sqs: Any
    model_bucket: str
    data_bucket: str
    jobs_queue_url: str
    uploads_queue_url: str
    model_prefix: str = "models/"
    version: str | None = None  # the version `served` published

    def queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # -- models ----------------------------------------------------------------------------

    def publish_folder(self, models_root: Path) -> str:
        """Uploads every version folder and the pointer of a local models folder; the version."""
        for path in sorted(models_root.rglob("*")):
            if path.is_file():
                self.s3.upload_file(str(path), self.model_bucket, self.model_prefix + path.relative_to(models_root).as_posix())
        return bundle.Pointer.from_json((models_root / bundle.POINTER_FILE).read_bytes()).version

    def publish_variant(self, from_version: str, *, files: dict[str, bytes] | None = None, card_files: dict[str, bytes] | None = None) -> str:
        """Publishes a new version made from an existing one and points ``current.json`` at it.

        ``files`` replaces file contents and records their sha256 in the card; ``card_files``
        replaces contents but leaves the card as it was (a corrupt upload).
        """
        version = bundle.new_version("bow")
        card = json.loads(self.get_model_object(f"{from_version}/{bundle.CARD_FILE}"))
        card["version"] = version
        contents = {name: self.get_model_object(f"{from_version}/{name}") for name in (bundle.MODEL_FILE, bundle.PREPROCESS_FILE)}
        for name, data in (files or {}).items():
            contents[name] = data
            card["files"][name] = {"sha256": bundle.sha256_bytes(data), "bytes": len(data)}
        contents.update(card_files or {})
        card_data = bundle.json_bytes(card)
        for name, data in {**contents, bundle.CARD_FILE: card_data}.items():
            self.put_model_object(f"{version}/{name}", data)
        pointer = bundle.Pointer(version=version, card_sha256=bundle.sha256_bytes(card_data), published_at=bundle.utc_now())
        self.put_model_object(bundle.POINTER_FILE, pointer.to_json())
        return version

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
        arn = self.queue_arn(queue_url)
        records = []
        for message in messages:
            record = load_event("sqs_record.json")
            record.update(
                messageId=message["MessageId"],
                receiptHandle=message["ReceiptHandle"],
                body=message["Body"],
                md5OfBody=message["MD5OfBody"],
                attributes=copy.deepcopy(message.get("Attributes", {})),
                eventSourceARN=arn,
            )
            records.append(record)
        return {"Records": records}

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

    def drain(self, queue_url: str, handler: Callable, context: Any, *, batch_size: int = 10, max_polls: int = 100) -> list[dict[str, Any]]:
        """Polls until the queue is empty (as the event source mapping would)."""
        responses = []
        for _ in range(max_polls):
            delivered = self.deliver(queue_url, handler, context, batch_size=batch_size)
            if not delivered:
                return responses
            responses.extend(delivered)
        raise AssertionError(f"{queue_url} still has messages after {max_polls} polls")
