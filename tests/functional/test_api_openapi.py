"""The OpenAPI document (GET /openapi.json) says exactly what the API accepts and answers."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from serving_harness import api_event, response_json

from functions import api, contract
from functions.api_models import ClassifyRequest

pytestmark = pytest.mark.functional

# API Gateway's own answers, which can meet any route before the function does
GATEWAY_STATUSES = {"403", "413", "429", "504"}


@pytest.fixture
def document(served, lambda_context) -> dict:
    response = api.lambda_handler(api_event("GET", "/openapi.json"), lambda_context)
    assert response["statusCode"] == 200
    return response_json(response)


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


@pytest.mark.parametrize(
    "body",
    [
        {"text": "a fine film"},
        {"texts": ["a", "b"]},
        {},
        {"text": "a", "texts": ["b"]},
        {"text": "a", "texts": None},
        {"texts": None},
        {"text": ""},
        {"text": "a", "lang": "en"},
    ],
    ids=json.dumps,
)
def test_the_document_calls_valid_exactly_the_classify_bodies_the_function_accepts(document, body):
    schema = document["components"]["schemas"]["ClassifyRequest"]
    try:
        ClassifyRequest.model_validate_json(json.dumps(body))
        accepted = True
    except ValidationError:
        accepted = False

    assert Draft202012Validator(schema).is_valid(body) == accepted


def test_every_route_documents_the_answers_of_the_gateway_in_the_error_shape(document):
    for name, operation in operations(document):
        responses = operation["responses"]
        assert GATEWAY_STATUSES | {"422"} <= set(responses), name
        for status in GATEWAY_STATUSES | {"422"}:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (name, status)


def test_the_documented_gateway_statuses_are_those_the_gateway_answers_with(document):
    statuses = {str(answer.status) for answer in contract.GATEWAY_ANSWERS.values() if answer.status is not None}

    for name, operation in operations(document):
        assert statuses <= set(operation["responses"]), name


def test_the_body_cap_is_documented_in_bytes(document):
    description = document["paths"]["/classify"]["post"]["responses"]["413"]["description"]

    assert f"{contract.MAX_BODY_BYTES:,}" in description
