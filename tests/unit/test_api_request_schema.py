"""API Gateway's request schemas derive from the request models and agree with them.

The gateway validates a body with `gateway_request_schema` (JSON Schema draft 4) before the
function validates it with the pydantic model: a body one accepts and the other refuses would
either cost an invocation for nothing or, worse, be refused by the gateway although the
function (and the OpenAPI document) call it valid.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import BaseModel, ValidationError

from functions.api_models import ClassifyRequest, JobRequest, gateway_request_schema
from functions.contract import MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY, MAX_TEXTS_PER_JOB

pytestmark = pytest.mark.unit

# draft 4's validation and annotation keywords (http://json-schema.org/draft-04/schema)
DRAFT_4_KEYWORDS = {
    "$schema", "id", "title", "description", "default", "type", "enum", "allOf", "anyOf", "oneOf", "not",
    "properties", "patternProperties", "additionalProperties", "required", "minProperties", "maxProperties",
    "dependencies", "items", "additionalItems", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
    "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "definitions",
}  # fmt: skip


def accepted_by_model(model: type[BaseModel], body: object) -> bool:
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError:
        return False
    return True


def keywords_of(schema: object) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(keywords_of, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for keyword, value in schema.items():
        if keyword == "properties":
            found |= set().union(*map(keywords_of, value.values()))
        elif keyword != "enum":
            found |= keywords_of(value)
    return found


@pytest.mark.parametrize("model", [ClassifyRequest, JobRequest])
def test_the_gateway_schema_is_valid_draft_4_and_uses_only_its_keywords(model):
    schema = gateway_request_schema(model)

    Draft4Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert keywords_of(schema) <= DRAFT_4_KEYWORDS


LONGEST = "x" * MAX_TEXT_CHARS
CLASSIFY_BODIES = [
    {"text": "a fine film"},
    {"texts": ["a", "b"]},
    {"texts": [LONGEST] * MAX_TEXTS_PER_CLASSIFY},
    {},
    {"text": "a", "texts": ["b"]},
    {"text": ""},
    {"text": LONGEST + "x"},
    {"texts": []},
    {"texts": [""]},
    {"texts": ["a"] * (MAX_TEXTS_PER_CLASSIFY + 1)},
    {"text": None},
    {"text": "a", "texts": None},
    {"text": 1},
    {"texts": "a"},
    {"text": "a", "lang": "en"},
    {"text": "a", "explain": True},
    {"texts": ["a"], "explain": False},
    {"text": "a", "explain": "yes"},
    {"text": "a", "explain": "true"},
    {"text": "a", "explain": 1},
    {"text": "a", "explain": None},
    {"explain": True},
    ["a"],
    "a",
    None,
]
JOB_BODIES = [
    {"texts": ["a"]},
    {"texts": ["a"] * MAX_TEXTS_PER_JOB},
    {"texts": ["a"] * (MAX_TEXTS_PER_JOB + 1)},
    {"texts": []},
    {"texts": [""]},
    {"text": "a"},
    {"texts": ["a"], "job_id": "x"},
    {},
]


@pytest.mark.parametrize(
    ("model", "body"),
    [(ClassifyRequest, body) for body in CLASSIFY_BODIES] + [(JobRequest, body) for body in JOB_BODIES],
    ids=lambda value: json.dumps(value)[:40] if not isinstance(value, type) else value.__name__,
)
def test_the_gateway_schema_accepts_exactly_what_the_model_accepts(model, body):
    validator = Draft4Validator(gateway_request_schema(model))

    assert validator.is_valid(body) == accepted_by_model(model, body)


texts = st.lists(st.text(max_size=3) | st.integers() | st.none(), max_size=3)
bodies = st.dictionaries(
    st.sampled_from(["text", "texts", "explain", "other"]),
    st.text(max_size=3) | texts | st.none() | st.booleans() | st.integers(0, 1),
)


@settings(max_examples=300, deadline=None)
@given(body=bodies)
def test_gateway_schema_and_model_agree_on_generated_classify_bodies(body):
    assert Draft4Validator(gateway_request_schema(ClassifyRequest)).is_valid(body) == accepted_by_model(
        ClassifyRequest, body
    )


# -- the plain /classify check (functions/plain_classify.py) narrows the model -------------------


def plain_and_model(body: object) -> tuple[object, object]:
    """What the plain check and the model (in Python mode, as Powertools validates a parsed body)
    make of ``body``: (texts, explain) or None each."""
    from functions.plain_classify import plain_body

    plain = plain_body(body)
    try:
        request = ClassifyRequest.model_validate(body)
    except ValidationError:
        model = None
    else:
        model = (request.all_texts(), request.explain)
    return (None if plain is None else tuple(plain)), model


@pytest.mark.parametrize("body", CLASSIFY_BODIES, ids=lambda value: json.dumps(value)[:40])
def test_the_plain_classify_check_accepts_what_the_model_accepts_with_the_same_values(body):
    plain, model = plain_and_model(body)
    assert plain == model


@settings(max_examples=500, deadline=None)
@given(body=bodies | st.lists(st.text(max_size=2), max_size=2) | st.text(max_size=2) | st.none())
def test_the_plain_classify_check_and_the_model_agree_on_generated_bodies(body):
    plain, model = plain_and_model(body)
    assert plain == model
