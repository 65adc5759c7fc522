"""The body cap keeps every body the API accepts inside Lambda's limit on the invocation payload.

Lambda refuses a synchronous invocation over 6,291,456 bytes: the whole proxy event, in which the
body is one JSON string. The worst case for a body the API can accept is a valid JSON body of
characters that escaping grows most (2-byte UTF-8 characters written as \\uXXXX, 4-byte ones as
surrogate pairs: three times their bytes), in an event whose headers fill what API Gateway allows.
"""

from __future__ import annotations

import json

import pytest
from serving_harness import api_event, response_json

from functions import api
from functions.contract import LAMBDA_SYNC_PAYLOAD_BYTES, MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY
from infra.local.lambda_events import ApiClient

pytestmark = pytest.mark.functional

# API Gateway's limit on a request line and its headers together
MAX_REQUEST_LINE_AND_HEADERS_BYTES = 10 * 1024
# a client sending all it may: a user agent (which the event repeats in requestContext) of quotes,
# the ASCII character that escaping doubles
HEAVY_CLIENT = ApiClient(user_agent='"' * (MAX_REQUEST_LINE_AND_HEADERS_BYTES - 1024))


def json_body_of(size: int, character: str) -> str:
    """A valid /jobs body of exactly ``size`` UTF-8 bytes, nearly all of them ``character``."""
    width = len(character.encode())
    text = character * (MAX_TEXT_CHARS // 2)
    # each text costs its bytes, two quotes and the ", " before the next; the last one pads
    count = (size - len('{"texts": ["x"]}')) // (len(text.encode()) + 4)
    padding = size - len(json.dumps({"texts": [text] * count + [""]}, ensure_ascii=False).encode())
    last = character * (padding // width) + "x" * (padding % width)
    body = json.dumps({"texts": [text] * count + [last]}, ensure_ascii=False)
    assert len(body.encode()) == size and 0 < len(last) <= MAX_TEXT_CHARS
    return body


def call(event, context):
    response = api.lambda_handler(event, context)
    return response["statusCode"], response_json(response)


@pytest.mark.parametrize("character", ["é", "😀", '"', "\n"], ids=["2-byte", "4-byte", "quote", "newline"])
def test_the_largest_body_the_cap_admits_fits_lambdas_payload_limit_in_a_heavy_event(character):
    body = (character * MAX_BODY_BYTES).encode()[:MAX_BODY_BYTES].decode(errors="ignore")
    body += "x" * (MAX_BODY_BYTES - len(body.encode()))
    event = api_event("POST", "/jobs", raw_body=body, client=HEAVY_CLIENT)

    payload = json.dumps(event, ensure_ascii=True).encode()

    assert len(body.encode()) == MAX_BODY_BYTES
    assert len(payload) <= LAMBDA_SYNC_PAYLOAD_BYTES


def test_the_heavy_event_holds_the_headers_api_gateway_allows():
    event = api_event("POST", "/jobs", client=HEAVY_CLIENT)

    header_bytes = sum(len(f"{name}: {value}\r\n") for name, value in event["headers"].items())

    assert MAX_REQUEST_LINE_AND_HEADERS_BYTES - 1024 < header_bytes <= MAX_REQUEST_LINE_AND_HEADERS_BYTES
    assert event["requestContext"]["identity"]["userAgent"] == HEAVY_CLIENT.user_agent


def test_a_body_of_exactly_the_cap_is_accepted(served, lambda_context):
    body = json_body_of(MAX_BODY_BYTES, "é")

    status, answer = call(api_event("POST", "/jobs", raw_body=body), lambda_context)

    assert (status, answer["status"]) == (202, "queued")


def test_one_byte_over_the_cap_is_refused_with_413(served, lambda_context):
    body = json_body_of(MAX_BODY_BYTES + 1, "é")

    status, answer = call(api_event("POST", "/jobs", raw_body=body), lambda_context)

    assert (status, answer["error"]) == (413, "body_too_large")
    assert f"{MAX_BODY_BYTES}" in answer["message"]


def test_the_largest_classify_request_of_ascii_text_is_under_the_cap():
    body = json.dumps({"texts": ["x" * MAX_TEXT_CHARS] * MAX_TEXTS_PER_CLASSIFY})

    assert len(body.encode()) <= MAX_BODY_BYTES
