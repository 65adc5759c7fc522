"""``functions.uploads.lambda_handler``: SQS messages from the uploads queue.

A message is an S3 event notification (every record of it is an upload to classify), the
``s3:TestEvent`` S3 sends when the notification is configured (skipped), or a chunk task this
function sent itself for a large file. Partial batch responses: a record that raises is
reported in ``batchItemFailures`` and retried; the others are not.
"""

# ruff: noqa: E402 - the collector goes off before the imports below

from __future__ import annotations

from functions.init_phase import pause_garbage_collection, resume_garbage_collection

_collecting = pause_garbage_collection()  # until this module is ready (functions/init_phase.py)

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import dependencies
from functions.observability import capture_lambda_handler, logger, metrics
from functions.settings import get_settings
from functions.upload_tasks import ChunkTask, Upload

dependencies.preload_model_during_init()  # Lambda only: the model loads during init

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class UnusableMessageError(Exception):
    """A message that is neither an S3 notification nor a chunk task; retrying cannot help."""


def work_of_message(body: str) -> list[Upload | ChunkTask]:
    """The uploads (every record of a notification) or the chunk task a message carries."""
    try:
        message = json.loads(body)
        if message.get("Event") == "s3:TestEvent":
            return []
        if ChunkTask.MESSAGE_FIELD in message:
            return [ChunkTask.from_message(message)]
        return [
            Upload.from_notification(
                # S3 URL-encodes keys in notifications ("+" for a space)
                key=unquote_plus(notification.s3.get_object.key),
                etag=notification.s3.get_object.etag,
                sequencer=notification.s3.get_object.get("sequencer") or notification.event_time,
            )
            for notification in S3Event(message).records
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise UnusableMessageError(f"{type(error).__name__}: {error}") from None


def record_handler(record: SQSRecord) -> None:
    logger.append_keys(message_id=record.message_id)
    try:
        work = work_of_message(record.body)
    except UnusableMessageError as error:
        logger.error("dropped a message that is no upload", extra={"reason": str(error)})
        return
    if not work:
        logger.info("skipped the s3:TestEvent")
    # SQS moves the message to the dead-letter queue after this delivery if it fails again
    last_attempt = int(record.attributes.approximate_receive_count) >= get_settings().max_receive_count
    for item in work:
        if isinstance(item, ChunkTask):
            dependencies.upload_processor().process_chunk(item, last_attempt=last_attempt)
        else:
            dependencies.upload_processor().process_upload(item, last_attempt=last_attempt)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


resume_garbage_collection(_collecting)
