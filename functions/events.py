"""The EventBridge events that say a job or an upload finished (DESIGN.md, Events).

An event names the work (the job id; the upload's key, name and run), its status, its counts,
the model version and where its result is in S3: never a text, nor an id or an error line taken
from an input file. The callers put one only after their own conditional write recorded the
outcome (a job's ``result.json``, an upload run's finished marker), so a redelivered message
never puts a second one.

A failure to put it (EventBridge unreachable or throttled past the client's retries, an entry
refused) is logged and counted (`EVENTS_NOT_PUT`) and never fails the work, whose result is in
S3 already. Delivery is therefore at most once: an event is lost when the bus stays unavailable,
or when the function dies between recording the outcome and putting the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.contract import EVENT_BUS, EVENT_SOURCE, JOB_FINISHED, UPLOAD_FINISHED, UPLOADS_PREFIX
from functions.observability import count, logger, metrics

EVENTS_NOT_PUT = "EventsNotPut"


class EventNotPutError(Exception):
    """EventBridge did not take the event (the message says why, without the event's content)."""


@dataclass(frozen=True)
class FinishedEvent:
    detail_type: str  # JOB_FINISHED or UPLOAD_FINISHED
    detail: dict[str, Any]

    @property
    def subject(self) -> dict[str, Any]:
        """What the event is about, for the logs."""
        ids = ("job_id", "upload_key", "run", "status")
        return {"detail_type": self.detail_type, **{name: self.detail[name] for name in ids if name in self.detail}}


def job_finished(result: Mapping[str, Any], *, bucket: str, result_key: str) -> FinishedEvent:
    """The event of a job from its ``result.json`` document (`job_service`); its predictions are
    only counted."""
    predictions = result.get("predictions") or []
    abstained = sum(1 for prediction in predictions if prediction.get("abstained") is not None)
    return FinishedEvent(
        JOB_FINISHED,
        {
            "job_id": result["job_id"],
            "status": result["status"],
            "model_version": result.get("model_version"),
            "counts": {"texts": len(predictions), "answered": len(predictions) - abstained, "abstained": abstained},
            "bucket": bucket,
            "result_key": result_key,
            "error": result.get("error"),  # the service's own reason, never the input's
        },
    )


def upload_finished(summary: Mapping[str, Any], *, bucket: str, summary_key: str, run: str) -> FinishedEvent:
    """The event of an upload from its summary document (`upload_summary`); of the summary it
    takes the counts, never the error lines (they carry the input's ids)."""
    key = summary["input"]
    return FinishedEvent(
        UPLOAD_FINISHED,
        {
            "upload_key": key,
            "name": key.removeprefix(UPLOADS_PREFIX),
            "run": run,
            "status": summary["status"],
            "model_version": summary.get("model_version"),
            "counts": {
                "lines": summary["lines"],
                "classified": summary["classified"],
                "answered": summary["answered"],
                "abstained": sum((summary.get("abstained") or {}).values()),
                "errors": summary["errors"],
            },
            "chunks": summary.get("chunks"),
            "bucket": bucket,
            "result_key": summary_key,
            "predictions_key": summary.get("predictions"),
            "error": summary.get("error"),  # the service's own reason, never the input's
        },
    )


@dataclass
class EventBus:
    """An EventBridge bus behind the one operation the functions need. The client comes from
    ``client``, called on the first put (botocore's errors, creating it included, become
    `EventNotPutError`)."""

    client: Callable[[], Any]
    name: str = EVENT_BUS

    def put(self, event: FinishedEvent) -> str:
        """Puts ``event``; the id EventBridge gave it."""
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail),
            "EventBusName": self.name,
        }
        try:
            response = self.client().put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as error:
            raise EventNotPutError(f"{type(error).__name__}: {error}") from None
        (answer,) = response["Entries"]
        if response.get("FailedEntryCount") or "EventId" not in answer:
            raise EventNotPutError(f"the entry was refused: {answer.get('ErrorCode')} {answer.get('ErrorMessage')}")
        return answer["EventId"]


def announce(bus: EventBus, event: FinishedEvent) -> bool:
    """Puts ``event``; False when it could not be put, which is logged and counted, never raised."""
    try:
        event_id = bus.put(event)
    except Exception as error:  # noqa: BLE001 - the work is done and its result stored: nothing here may undo it
        reason = str(error) if isinstance(error, EventNotPutError) else type(error).__name__
        logger.warning("event not put", extra={**event.subject, "reason": reason})
        count(metrics, EVENTS_NOT_PUT, 1)
        return False
    logger.info("event put", extra={**event.subject, "event_id": event_id})
    return True
