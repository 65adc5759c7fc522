"""The events Lambda hands the three handlers, built the way AWS builds them.

API Gateway REST proxy events (payload v1) for ``functions.api``, and SQS events of received
messages for ``functions.jobs`` and ``functions.uploads``. The local cloud's gateway and event
source mappings, the functional tests and the benchmarks all build their events here, so none
of them can disagree with the others about what AWS sends; a unit test compares the events with
AWS's samples in ``tests/events/``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from functions import contract
from infra.local.resources import ACCOUNT_ID, REGION


@dataclass(frozen=True)
class RestApiStage:
    """Where a request arrived: the API and stage that API Gateway names in ``requestContext``."""

    stage: str = "prod"
    api_id: str = "abc123"
    domain_name: str | None = None  # the execute-api host of the API by default

    @property
    def host(self) -> str:
        return self.domain_name or f"{self.api_id}.execute-api.{REGION}.amazonaws.com"


DEPLOYED_STAGE = RestApiStage()


# -- API Gateway ------------------------------------------------------------------------------


def rest_proxy_event(
    method: str,
    target: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    is_base64_encoded: bool = False,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    api_key: str | None = None,
    api_key_id: str | None = None,
    source_ip: str = "203.0.113.7",
    request_id: str | None = None,
    stage: RestApiStage = DEPLOYED_STAGE,
) -> dict[str, Any]:
    """The REST proxy event (payload v1) API Gateway sends the function for one HTTP request.

    ``target`` is the path and query as sent; ``headers`` are the request's in order, repeats
    included. ``resource`` and ``path_parameters`` are those of the route that matched; by
    default the route of `contract.ROUTES` whose template the path fits (any method).
    """
    url = urlsplit(target)
    if resource is None:
        resource, path_parameters = _route_of(url.path)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    request_id = request_id or str(uuid.uuid4())
    now = time.time()
    user_agent = next((values[-1] for name, values in multi_headers.items() if name.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": url.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": stage.api_id,
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage.stage}{url.path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage.stage,
            "domainPrefix": stage.api_id,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "apiKey": api_key,
                "apiKeyId": api_key_id,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": stage.host,
            "apiId": stage.api_id,
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }


def encode_body(data: bytes) -> tuple[str | None, bool]:
    """A request body as the event carries it: ``(body, isBase64Encoded)``.

    The API declares no binary media types, so text passes as it is; bytes that are not UTF-8
    pass base64-encoded, so they reach the function intact.
    """
    if not data:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), True


@dataclass(frozen=True)
class ApiClient:
    """What a typical client sends with every request, and what API Gateway adds to it."""

    api_key: str = "test-api-key"
    api_key_id: str = "k1l2m3n4o5"
    user_agent: str = "python-requests/2.32.3"
    source_ip: str = "203.0.113.7"
    stage: RestApiStage = DEPLOYED_STAGE
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Host": self.stage.host,
            "User-Agent": self.user_agent,
            "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            "X-Forwarded-For": self.source_ip,
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            "x-api-key": self.api_key,
            **self.extra_headers,
        }


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str | None] | None = None,
    raw_body: str | None = None,
    base64_body: bytes | None = None,
    client: ApiClient | None = None,
) -> dict[str, Any]:
    """The event of a JSON client's request through the deployed API: ``body`` is sent as JSON,
    ``raw_body`` as it is, ``base64_body`` base64-encoded. ``headers`` replace the client's
    headers of the same name (any case); a None value removes one."""
    client = client or ApiClient()
    sent = client.headers()
    for name, value in (headers or {}).items():
        sent = {existing: v for existing, v in sent.items() if existing.lower() != name.lower()}
        if value is not None:
            sent[name] = value
    encoded = False
    if base64_body is not None:
        text, encoded = base64.b64encode(base64_body).decode(), True
    elif raw_body is not None:
        text = raw_body
    else:
        text = None if body is None else json.dumps(body)
    return rest_proxy_event(
        method,
        path,
        headers=sent.items(),
        body=text,
        is_base64_encoded=encoded,
        api_key=client.api_key,
        api_key_id=client.api_key_id,
        source_ip=client.source_ip,
        stage=client.stage,
    )


def _route_of(path: str) -> tuple[str, dict[str, str] | None]:
    for route in contract.ROUTES:
        if (parameters := route.path_parameters(path)) is not None:
            return route.path, parameters or None
    return path, None


# -- SQS --------------------------------------------------------------------------------------


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes for these received messages
    (``ReceiveMessage`` with every system and message attribute)."""
    return {"Records": [sqs_record(message, queue_arn) for message in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received message as a record of the SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


# -- the context ------------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """The context object Lambda passes with the event (the attributes Powertools reads)."""

    function_name: str = "sentiment-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:sentiment-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/sentiment-test"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"
    remaining_time_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_ms
