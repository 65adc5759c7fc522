"""What both ways of answering an API request share (`functions.api_routes`, the Powertools app,
and `functions.plain_classify`): reading the JSON body within the cap, and the answer to a defect.
It imports neither Powertools' event handler nor pydantic, so the plain path can use it."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from functions.contract import MAX_BODY_BYTES, error_body
from functions.observability import logger


class RequestBodyTooLargeError(Exception):
    """The request body is larger than `MAX_BODY_BYTES`."""


def bounded_json(body: str) -> Any:
    """The JSON value of ``body``; `RequestBodyTooLargeError` over the cap (refused before it is
    parsed), `json.JSONDecodeError` for anything Python cannot parse."""
    if len(body) > MAX_BODY_BYTES or len(body.encode()) > MAX_BODY_BYTES:
        raise RequestBodyTooLargeError()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        # Nesting deeper than the interpreter's stack, or an integer of over 4,300 digits, is JSON
        # that Python cannot parse: to the caller, an unparsable body like any other (a 422).
        raise json.JSONDecodeError(f"unparsable JSON ({type(error).__name__})", body, 0) from None


def unexpected_error_answer() -> tuple[HTTPStatus, dict[str, Any]]:
    """The status and body of a defect, logged with its trace (call it in an ``except``): the
    caller's fault it is not, and the trace goes to the log, never to the caller."""
    logger.exception("unexpected error")
    return HTTPStatus.INTERNAL_SERVER_ERROR, error_body("internal_error", "the request failed unexpectedly")
