"""The local API Gateway's pure parts: route matching, the proxy event, responses, throttling."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, SqsRecordModel

from functions.api_models import ErrorResponse
from infra.local import gateway
from infra.local.__main__ import parse_args
from infra.local.gateway import HttpRequest, MatchedRoute, http_response, match_route, proxy_event
from infra.local.lambda_events import sqs_record
from infra.local.process import LocalCloudProcess
from infra.local.throttling import DailyQuota, TokenBucket
from infra.settings import Throttle

pytestmark = pytest.mark.unit


def _event(request: HttpRequest) -> dict:
    route = match_route(request.method, request.target.split("?")[0])
    return proxy_event(request, route, api_key="k" * 20, api_key_id="local-key-1", request_id="r-1")


def test_route_template_matches_and_decodes_its_path_parameter():
    assert match_route("GET", "/jobs/ab%20c") == MatchedRoute("/jobs/{job_id}", {"job_id": "ab c"})


@pytest.mark.parametrize(
    ("method", "path"), [("DELETE", "/classify"), ("GET", "/jobs/"), ("GET", "/jobs/a/b"), ("GET", "/nothing")]
)
def test_undeclared_method_or_path_matches_no_route(method, path):
    assert match_route(method, path) is None


def test_proxy_event_is_a_valid_rest_proxy_event_v1():
    request = HttpRequest(
        "GET",
        "/jobs/abc?verbose=1&tag=a&tag=b",
        [("Accept", "a"), ("Accept", "b"), ("User-Agent", "curl/8")],
        b"",
        "127.0.0.1",
    )

    event = _event(request)

    parsed = APIGatewayProxyEventModel(**event)
    assert parsed.resource == "/jobs/{job_id}"
    assert parsed.pathParameters == {"job_id": "abc"}
    assert event["headers"]["Accept"] == "b" and event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["multiValueQueryStringParameters"] == {"verbose": ["1"], "tag": ["a", "b"]}
    assert event["requestContext"]["identity"]["apiKey"] == "k" * 20
    assert event["body"] is None


def test_body_that_is_not_utf8_reaches_the_function_base64_encoded():
    event = _event(HttpRequest("POST", "/classify", [], b"\xff\xfe", "127.0.0.1"))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_function_answer_becomes_the_http_response():
    answer = {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json"},
        "body": '{"a": 1}',
        "isBase64Encoded": False,
    }

    response = http_response(answer, "r-1")

    assert (response.status, json.loads(response.body)) == (202, {"a": 1})
    assert ("Content-Type", "application/json") in response.headers


def test_answer_that_is_no_proxy_response_is_a_502():
    response = http_response({"body": "no status"}, "r-1")

    assert response.status == 502
    assert json.loads(response.body) == {"error": "gateway_error", "message": "Internal server error"}


LOCAL_ERRORS = {
    "MISSING_TOKEN": (gateway.MISSING_TOKEN, 403, "no_such_route"),
    "FORBIDDEN": (gateway.FORBIDDEN, 403, "invalid_api_key"),
    "TOO_MANY_REQUESTS": (gateway.TOO_MANY_REQUESTS, 429, "throttled"),
    "QUOTA_EXCEEDED": (gateway.QUOTA_EXCEEDED, 429, "quota_exceeded"),
    "TOO_LONG": (gateway.TOO_LONG, 413, "body_too_large"),
    "INTERNAL_ERROR": (gateway.INTERNAL_ERROR, 502, "gateway_error"),
    "TIMED_OUT": (gateway.TIMED_OUT, 504, "timed_out"),
}


@pytest.mark.parametrize(("error", "status", "code"), LOCAL_ERRORS.values(), ids=LOCAL_ERRORS.keys())
def test_the_gateways_own_answers_have_the_api_error_shape(error, status, code):
    response = gateway.error_response(error, "r-1")

    body = json.loads(response.body)
    ErrorResponse.model_validate(body)
    assert (response.status, body["error"]) == (status, code)
    assert ("Content-Type", "application/json") in response.headers


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_admits_its_burst_then_refills_at_its_rate():
    clock = FakeClock()
    bucket = TokenBucket(Throttle(rate_per_second=10, burst=3), clock)

    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.1  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]


def test_daily_quota_resets_on_a_new_day():
    day = ["2026-11-28"]
    quota = DailyQuota(2, today=lambda: day[0])

    assert [quota.take() for _ in range(3)] == [True, True, False]
    day[0] = "2026-11-29"
    assert quota.take() is True


def test_received_message_becomes_a_valid_sqs_event_record():
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "h-1",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "chunk"}},
    }

    record = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q")

    parsed = SqsRecordModel(**record)
    assert parsed.attributes.ApproximateReceiveCount == "2"
    assert record["messageAttributes"]["kind"]["stringValue"] == "chunk"


def test_an_api_key_that_begins_with_a_dash_reaches_the_local_cloud(tmp_path):
    # secrets.token_urlsafe gives such keys about one time in 64
    key = "-" + "k" * 31
    process = LocalCloudProcess(api_keys=[key], models=tmp_path, state_dir=tmp_path)

    module_arguments = process.command[process.command.index("infra.local") + 1 :]

    assert parse_args(module_arguments).api_keys == (key,)
