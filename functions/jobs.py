"""``functions.jobs.lambda_handler``: SQS messages from the jobs queue, one job id each.

Partial batch responses: a job that fails for a reason that may pass (no model yet, S3
unavailable) is reported in ``batchItemFailures`` and retried; on its last delivery before the
dead-letter queue it is also marked failed, so that ``GET /jobs/{id}`` does not say "queued"
forever. A finished job (done or failed) puts one "Job Finished" event (`functions.events`).
A message that names no job is logged and dropped, since no retry can fix it.
"""

# ruff: noqa: E402 - the collector goes off before the imports below

from __future__ import annotations

from functions.init_phase import pause_garbage_collection, resume_garbage_collection

_collecting = pause_garbage_collection()  # until this module is ready (functions/init_phase.py)

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import dependencies
from functions.job_service import InvalidJobMessageError, job_id_of_message, run_job
from functions.observability import capture_lambda_handler, logger, metrics
from functions.settings import get_settings

dependencies.preload_model_during_init()  # Lambda only: the model loads during init

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    try:
        job_id = job_id_of_message(record.body)
    except InvalidJobMessageError as error:
        logger.error(
            "dropped a message that names no job", extra={"message_id": record.message_id, "reason": str(error)}
        )
        return
    logger.append_keys(job_id=job_id)
    # SQS moves the message to the dead-letter queue after this delivery if it fails again
    last_attempt = int(record.attributes.approximate_receive_count) >= get_settings().max_receive_count
    run_job(
        dependencies.data_bucket(),
        job_id,
        dependencies.model_store(),
        events=dependencies.event_bus(),
        last_attempt=last_attempt,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


resume_garbage_collection(_collecting)
