"""``POST /classify`` with a plainly valid body, answered without the Powertools app.

Most of the API's traffic, and the request a new execution environment usually meets first, is a
valid ``/classify``. The app (`functions.api_routes`) validates it with pydantic through
Powertools' event handler, and importing those two costs a cold start about 150 ms, a third of
the floor of any function that serves an ONNX model from S3. So `functions.api` first offers
each event to `answer`: a request that `plain_request` finds plainly valid is classified by the
same `classification_body` as the app's route, and answered with the same response. Everything
else (another route, another content type, a base64 body, any body the check is not sure of, a
request that breaks the contract) is left to the app, which answers it as the only path would.

The check is a narrowing of the pydantic model `functions.api_models.ClassifyRequest` (the one
definition of the contract), not a second definition: whatever it accepts the model accepts with
the same texts and flag, and tests hold it to that on generated bodies; where it is unsure it
passes, and the model decides.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, NamedTuple

from functions import dependencies
from functions.classification import classification_body
from functions.contract import MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY
from functions.http_answers import bounded_json, unexpected_error_answer
from functions.model_store import ModelUnavailableError
from functions.object_store import StorageError
from functions.settings import SettingsError

ROUTE = ("POST", "/classify")
FIELDS = frozenset({"text", "texts", "explain"})
JSON_CONTENT_TYPE = "application/json"
# Faults the app answers for every route (503, 500) and that happen before any work is counted:
# those requests go to the app, which meets the fault again and answers it in its one place.
APP_ANSWERED_FAULTS = (ModelUnavailableError, StorageError, SettingsError)


class PlainRequest(NamedTuple):
    texts: list[str]
    explain: bool


def answer(event: dict[str, Any]) -> dict[str, Any] | None:
    """The proxy response to ``event`` when it is a plainly valid ``POST /classify``; None when
    the app must answer it."""
    request = plain_request(event)
    if request is None:
        return None
    try:
        body = classification_body(dependencies.model_store(), request.texts, explain=request.explain)
    except APP_ANSWERED_FAULTS:
        return None
    except Exception:  # noqa: BLE001 - a defect: answered here, its predictions' failure already counted
        status, error = unexpected_error_answer()
        return _response(status, error)
    return _response(HTTPStatus.OK, body)


def plain_request(event: dict[str, Any]) -> PlainRequest | None:
    """The texts and flag of a ``POST /classify`` event whose JSON body the pydantic model
    certainly accepts; None for any other event."""
    try:
        if (event.get("httpMethod"), event.get("path")) != ROUTE or event.get("isBase64Encoded"):
            return None
        body = event.get("body")
        if not isinstance(body, str) or not _sent_as_json(event):
            return None
        return plain_body(bounded_json(body))
    except Exception:  # noqa: BLE001 - anything odd about the event is the app's to answer
        return None


def plain_body(value: Any) -> PlainRequest | None:
    """``value`` as a request when it is an object of exactly one of ``text`` (a string of 1 to
    `MAX_TEXT_CHARS` characters) and ``texts`` (1 to `MAX_TEXTS_PER_CLASSIFY` such strings), and
    an optional boolean ``explain``; None otherwise (the model then decides, and explains)."""
    if type(value) is not dict or not value.keys() <= FIELDS or (("text" in value) == ("texts" in value)):
        return None
    explain = value.get("explain", False)
    texts = [value["text"]] if "text" in value else value["texts"]
    if type(explain) is not bool or type(texts) is not list or not 1 <= len(texts) <= MAX_TEXTS_PER_CLASSIFY:
        return None
    if not all(type(text) is str and 1 <= len(text) <= MAX_TEXT_CHARS for text in texts):
        return None
    return PlainRequest(texts, explain)


def _sent_as_json(event: dict[str, Any]) -> bool:
    # every Content-Type the event carries, in either header map and any case of its name, is
    # JSON's as Powertools reads it (stripped, then case-sensitive), or none is sent
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        for name, values in headers.items():
            if name.lower() != "content-type":
                continue
            for value in values if isinstance(values, list) else [values]:
                if not isinstance(value, str) or not value.strip().startswith(JSON_CONTENT_TYPE):
                    return False
    return True


def _response(status: HTTPStatus, body: str | dict[str, Any]) -> dict[str, Any]:
    # the proxy response Powertools' APIGatewayRestResolver gives a JSON Response
    if not isinstance(body, str):
        body = json.dumps(body, separators=(",", ":"))
    return {
        "statusCode": status,
        "body": body,
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": [JSON_CONTENT_TYPE]},
    }
