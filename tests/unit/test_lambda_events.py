"""The one builder of Lambda events (`infra.local.lambda_events`) against AWS's sample events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, SqsModel

from infra.local.gateway import HttpRequest, match_route, proxy_event
from infra.local.lambda_events import api_event, sqs_event

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[1] / "events"


def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


# maps whose keys are the request's or the message's own, not fields of the event
_OPEN_MAPS = {"headers", "multiValueHeaders", "attributes", "messageAttributes"}


def _shape(value: Any) -> Any:
    """The field names of an event, nested objects included."""
    if isinstance(value, dict):
        return {key: None if key in _OPEN_MAPS else _shape(item) for key, item in value.items()}
    return None


def _gateway_event() -> dict[str, Any]:
    request = HttpRequest("POST", "/classify", [("Content-Type", "application/json")], b'{"text": "a"}', "127.0.0.1")
    route = match_route(request.method, "/classify")
    return proxy_event(request, route, api_key="k" * 20, api_key_id="local-key-1", request_id="r-1")


@pytest.mark.parametrize(
    "event", [api_event("POST", "/classify", {"text": "a"}), _gateway_event()], ids=["client", "local gateway"]
)
def test_rest_proxy_events_have_the_fields_of_aws_sample(event):
    sample = _sample("api_gateway_rest.json")

    assert _shape(event) == _shape(sample)
    APIGatewayProxyEventModel(**event)


def test_client_event_names_the_route_template_and_its_parameter():
    event = api_event("GET", "/jobs/ab%20c")

    assert (event["resource"], event["requestContext"]["resourcePath"]) == ("/jobs/{job_id}", "/jobs/{job_id}")
    assert event["pathParameters"] == {"job_id": "ab c"}


def test_client_headers_are_replaced_whatever_their_case_and_removed_with_none():
    event = api_event("POST", "/classify", raw_body="x", headers={"content-type": "text/plain", "x-api-key": None})

    assert [name for name in event["headers"] if name.lower() in {"content-type", "x-api-key"}] == ["content-type"]
    assert event["multiValueHeaders"]["content-type"] == ["text/plain"]


def test_sqs_event_of_a_received_message_has_the_fields_of_aws_sample():
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "MD5OfBody": "0cc175b9c0f1b6a831c399e269772661",
        "Body": "a",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s"}
        | {"ApproximateFirstReceiveTimestamp": "1"},
    }

    event = sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:queue")

    (record,) = event["Records"]
    assert _shape(record) == _shape(_sample("sqs_record.json"))
    SqsModel(**event)
