"""Queued classification jobs: ``jobs/<job_id>/request.json`` in, ``jobs/<job_id>/result.json`` out.

The API stores the request and puts only the id on the jobs queue (a request of 10,000 texts
does not fit in an SQS message). The consumer classifies and writes the result with a
conditional write, so redelivered or concurrent deliveries of one job produce one result. A
job that cannot succeed (its request missing or malformed) gets a failed result instead of an
exception, so SQS does not retry it forever. The delivery whose conditional write stored the
result, done or failed, puts the job's one event; a later delivery finds the result and puts none.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from functions.api_models import StoredJobRequest
from functions.classification import ModelRouter, classify_texts
from functions.contract import JOBS_PREFIX, MAX_TEXT_CHARS, MAX_TEXTS_PER_JOB
from functions.events import EventBus, announce, job_finished
from functions.language import UNDETERMINED
from functions.object_store import Bucket, Queue
from functions.observability import logger

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# What a prediction of a result written before predictions carried a language and an abstention
# meant: that model detected no language and never abstained.
_EARLIER_PREDICTION = {"language": UNDETERMINED, "abstained": None}

JobState = Literal["queued", "done", "failed"]


class JobNotFoundError(Exception):
    """No job has this id (or the id is not one this service could have issued)."""


class InvalidJobMessageError(Exception):
    """A jobs-queue message that names no job; retrying it cannot help."""


class _UnusableRequestError(Exception):
    """A stored job request that no retry can make classifiable (the reason is the message)."""


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: JobState
    model_version: str | None = None
    predictions: list[dict[str, Any]] | None = None  # prediction objects (DESIGN.md), without explanations
    error: str | None = None


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.match(value))


def _request_key(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}/request.json"


def _result_key(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}/result.json"


def submit_job(bucket: Bucket, queue: Queue, texts: list[str]) -> str:
    job_id = new_job_id()
    request = StoredJobRequest(job_id=job_id, texts=texts, submitted_at=time.time())
    bucket.put_bytes(_request_key(job_id), request.model_dump_json().encode())
    queue.send({"job_id": job_id})
    logger.info("job queued", extra={"job_id": job_id, "texts": len(texts)})
    return job_id


def job_status(bucket: Bucket, job_id: str) -> JobStatus:
    # Only ids of our own shape reach S3: no other key can be named through the route.
    if not is_job_id(job_id):
        raise JobNotFoundError(job_id)
    result = bucket.get_json(_result_key(job_id))
    if result is not None:
        predictions = result.get("predictions")
        return JobStatus(
            job_id=job_id,
            status=result["status"],
            model_version=result.get("model_version"),
            predictions=None if predictions is None else [{**_EARLIER_PREDICTION, **p} for p in predictions],
            error=result.get("error"),
        )
    if bucket.head(_request_key(job_id)) is None:
        raise JobNotFoundError(job_id)
    return JobStatus(job_id=job_id, status="queued")


def job_id_of_message(body: str) -> str:
    try:
        message = json.loads(body)
    except ValueError:
        raise InvalidJobMessageError("the message is not JSON") from None
    job_id = message.get("job_id") if isinstance(message, dict) else None
    if not isinstance(job_id, str) or not is_job_id(job_id):
        raise InvalidJobMessageError("the message names no valid job id")
    return job_id


def run_job(bucket: Bucket, job_id: str, models: ModelRouter, *, events: EventBus, last_attempt: bool = False) -> None:
    """Classifies one job once, all of it by one model (the result names it); a job that already
    has a result is left as it is. An error propagates (the delivery is retried); on the
    ``last_attempt`` the job is marked failed first. The job's event goes to ``events`` once its
    result is stored."""
    if bucket.head(_result_key(job_id)) is not None:
        logger.info("job already finished", extra={"job_id": job_id})
        return
    try:
        texts = _texts_of_request(bucket.get_bytes(_request_key(job_id)))
        result = classify_texts(models, texts)
    except _UnusableRequestError as reason:
        _fail(bucket, job_id, str(reason), events)
        return
    except Exception as error:  # whatever stops the last attempt is the job's reason to fail
        if last_attempt:
            _fail(bucket, job_id, f"the job could not be run ({type(error).__name__}); retries are exhausted", events)
        raise
    predictions = [prediction.to_dict() for prediction in result.predictions]
    _finish(
        bucket,
        {"job_id": job_id, "status": "done", "model_version": result.model_version, "predictions": predictions},
        events,
    )
    logger.info("job done", extra={"job_id": job_id, "texts": len(texts), "model_version": result.model_version})


def _fail(bucket: Bucket, job_id: str, reason: str, events: EventBus) -> None:
    _finish(bucket, {"job_id": job_id, "status": "failed", "error": reason}, events)
    logger.warning("job failed", extra={"job_id": job_id, "reason": reason})


def _finish(bucket: Bucket, result: dict[str, Any], events: EventBus) -> None:
    """Stores the result and, when this delivery's write is the one that stored it, puts the event."""
    key = _result_key(result["job_id"])
    if _write_result(bucket, result["job_id"], result):
        announce(events, job_finished(result, bucket=bucket.name, result_key=key))


def _texts_of_request(data: bytes | None) -> list[str]:
    if data is None:
        raise _UnusableRequestError("the job's request does not exist")
    try:
        return StoredJobRequest.model_validate_json(data).texts
    except ValidationError as error:
        # the error's own text would quote the texts: only its types and locations are used
        problems = error.errors(include_input=False)
        if any(problem["type"] == "json_invalid" for problem in problems):
            raise _UnusableRequestError("the job's request is not valid JSON") from None
        fields = ", ".join(sorted({str(problem["loc"][0]) if problem["loc"] else "request" for problem in problems}))
        raise _UnusableRequestError(
            f"the job's request is unusable ({fields}): it must hold 1 to {MAX_TEXTS_PER_JOB} texts "
            f"of 1 to {MAX_TEXT_CHARS} characters"
        ) from None


def _write_result(bucket: Bucket, job_id: str, result: dict[str, Any]) -> bool:
    """Whether this write stored the result: the first finished delivery wins; a later one finds
    the result and keeps it."""
    if not bucket.create(_result_key(job_id), json.dumps(result).encode()):
        logger.info("job result already written", extra={"job_id": job_id})
        return False
    return True
