"""The OpenAPI document (GET /openapi.json) says exactly what the API accepts and answers."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from serving_harness import api_event, response_json

from functions import api, contract, dependencies, jobs
from functions.api_models import ClassifyRequest
from functions.sentiment_model import ABSTENTION_REASONS
from model_build import bundle

pytestmark = pytest.mark.functional

PREDICTION_FIELDS = ["label", "score", "probabilities", "language", "abstained"]
NOTHING_TO_LEARN_FROM = "\u200b\u200b"  # no token: the service abstains (no_evidence)

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
        {"text": "a", "explain": True},
        {"texts": ["a"], "explain": False},
        {"text": "a", "explain": "yes"},
        {"text": "a", "explain": 1},
        {"text": "a", "explain": None},
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


# -- responses: what the API answers is what the document says it answers ---------------------


def call(event, context) -> tuple[int, dict]:
    response = api.lambda_handler(event, context)
    return response["statusCode"], response_json(response)


def documented_response(document: dict, path: str, method: str, status: int = 200) -> Draft202012Validator:
    schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    # the document's components beside the schema, so that its references resolve
    return Draft202012Validator({**schema, "components": document["components"]})


def component(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


@pytest.mark.parametrize(
    "body",
    [
        {"texts": ["wonderful superb film", "awful boring mess"]},
        {"texts": ["wonderful superb film", NOTHING_TO_LEARN_FROM], "explain": True},
        {"text": NOTHING_TO_LEARN_FROM, "explain": False},
        {"texts": ["Der Film war schrecklich langweilig und viel zu lang.", 'great "film" \u00e9t\u00e9 \U0001f600']},
    ],
    ids=json.dumps,
)
def test_classify_answers_as_the_document_says(document, lambda_context, body):
    status, answer = call(api_event("POST", "/classify", body), lambda_context)

    assert status == 200
    assert list(documented_response(document, "/classify", "post").iter_errors(answer)) == []


def test_a_finished_job_answers_as_the_document_says(document, served, lambda_context):
    _, accepted = call(
        api_event("POST", "/jobs", {"texts": ["wonderful superb film", NOTHING_TO_LEARN_FROM]}), lambda_context
    )
    served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    status, job = call(api_event("GET", f"/jobs/{accepted['job_id']}"), lambda_context)

    assert (status, job["status"]) == (200, "done")
    assert list(documented_response(document, "/jobs/{job_id}", "get").iter_errors(job)) == []


def test_the_prediction_always_has_its_fields_and_an_explanation_only_when_asked(document):
    prediction = component(document, "PredictionBody")

    assert sorted(prediction["required"]) == sorted(PREDICTION_FIELDS)
    assert "explanation" in prediction["properties"] and "explanation" not in prediction["required"]
    assert prediction["properties"]["explanation"]["type"] == "array"  # absent or a list, never null
    assert "explain" in prediction["properties"]["explanation"]["description"]


def test_the_documented_abstention_reasons_are_the_models_and_each_is_described(document):
    reason = component(document, "AbstentionBody")["properties"]["reason"]

    assert reason["enum"] == list(ABSTENTION_REASONS)
    assert all(name in reason["description"] for name in ABSTENTION_REASONS)


def test_explain_is_a_described_boolean_that_defaults_to_false(document):
    explain = component(document, "ClassifyRequest")["properties"]["explain"]

    assert (explain["type"], explain["default"]) == ("boolean", False)
    assert "explanation" in explain["description"]


NEWER_CARD_FIELDS = {
    "calibration": {
        "method": "temperature by n-gram count",
        "parameters": {"log_scale": 0.2, "evidence_power": -0.1},
        "test_reviews": {"texts": 25000, "accuracy": 0.91, "expected_calibration_error": 0.021, "mean_confidence": 0.9},
        "test_last_sentences": {"texts": 24000, "accuracy": 0.8, "expected_calibration_error": 0.034},
    },
    "languages": {"training": {"en": 0.99, "fr": 0.01}, "supported": ["en"]},
    "limitations": ["Sarcasm is often read literally.", "Only English reviews were seen in training."],
}


def publish_card(cloud, **fields) -> dict:
    """Publishes the served bundle again as a new version whose card has ``fields`` instead of
    the newer fields its card may have, and points ``current.json`` at it; the card."""
    card = json.loads(cloud.get_model_object(f"{cloud.version}/{bundle.CARD_FILE}"))
    card = {name: value for name, value in card.items() if name not in NEWER_CARD_FIELDS}
    card = {**card, **fields, "version": bundle.new_version(card["architecture"])}
    for name in (bundle.MODEL_FILE, bundle.PREPROCESS_FILE):
        cloud.put_model_object(f"{card['version']}/{name}", cloud.get_model_object(f"{cloud.version}/{name}"))
    card_data = bundle.json_bytes(card)
    cloud.put_model_object(f"{card['version']}/{bundle.CARD_FILE}", card_data)
    pointer = bundle.Pointer(
        version=card["version"], card_sha256=bundle.sha256_bytes(card_data), published_at=bundle.utc_now()
    )
    cloud.put_model_object(bundle.POINTER_FILE, pointer.to_json())
    return card


@pytest.mark.parametrize("fields", [{}, NEWER_CARD_FIELDS], ids=["older bundle", "newer bundle"])
def test_the_card_is_served_as_published_and_as_the_document_says(document, served, lambda_context, fields):
    published = publish_card(served, **fields)
    dependencies.reset()  # a container that starts on that bundle (the document's request loaded the older)

    status, card = call(api_event("GET", "/model"), lambda_context)

    assert (status, card) == (200, published)
    assert list(documented_response(document, "/model", "get").iter_errors(card)) == []


def test_the_card_of_the_bundle_trained_here_is_as_the_document_says(document, lambda_context):
    status, card = call(api_event("GET", "/model"), lambda_context)

    assert status == 200
    assert list(documented_response(document, "/model", "get").iter_errors(card)) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("calibration", {"test_reviews": {"accuracy": 0.9, "expected_calibration_error": "low"}}),
        ("calibration", {"test_reviews": {"accuracy": 0.9}}),
        ("languages", {"training": {"en": 1.0}}),
        ("limitations", "none"),
    ],
)
def test_the_document_describes_the_newer_card_fields_not_just_allows_them(document, served, field, value):
    card = json.loads(served.get_model_object(f"{served.version}/{bundle.CARD_FILE}"))

    assert not documented_response(document, "/model", "get").is_valid({**card, field: value})
