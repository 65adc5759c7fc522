"""Request and response models of the HTTP API: the one definition of the request contract.

Powertools validates bodies with them and publishes them in the OpenAPI document; the CDK app
gives API Gateway's request validator `gateway_request_schema` of the same models; the jobs
consumer validates a stored request with `StoredJobRequest`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from functions.contract import MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY, MAX_TEXTS_PER_JOB

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
ClassifyTexts = Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS_PER_CLASSIFY)]
JobTexts = Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS_PER_JOB)]


class _Model(BaseModel):
    # Validators and serializers are built on first use, not at import: a cold start builds only
    # those its first request needs.
    model_config = ConfigDict(defer_build=True)


class _Request(_Model):
    # strict: a number is not a text; forbid: a misspelt field is an error, not ignored
    model_config = ConfigDict(strict=True, extra="forbid")


def _exactly_one_of_text_and_texts(schema: dict[str, Any]) -> None:
    # The schema says what the validator below checks, so that a request the OpenAPI document
    # (or API Gateway's copy of it) calls valid is one the function accepts. Both fields are
    # absent or a value, never null, so their schemas carry no `null` default.
    for field_schema in schema["properties"].values():
        field_schema.pop("default", None)
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]


class ClassifyRequest(_Request):
    """Exactly one of ``text`` and ``texts``."""

    model_config = ConfigDict(json_schema_extra=_exactly_one_of_text_and_texts)

    # None only when the field is absent: pydantic does not validate defaults, and a null sent
    # is no string and no list. repr=False: a request is never printed with its texts
    # (Powertools logs route arguments at DEBUG).
    texts: ClassifyTexts = Field(None, repr=False)
    text: Text = Field(None, repr=False)

    @model_validator(mode="after")
    def _exactly_one(self) -> ClassifyRequest:
        if (self.texts is None) == (self.text is None):
            raise ValueError("give either 'text' or 'texts', not both and not neither")
        return self

    def all_texts(self) -> list[str]:
        return self.texts if self.texts is not None else [self.text]


class JobRequest(_Request):
    texts: JobTexts = Field(repr=False)


class StoredJobRequest(JobRequest):
    """``jobs/<job_id>/request.json``: the accepted request, with what the API adds to it."""

    job_id: str
    submitted_at: float  # seconds since the epoch


class PredictionBody(_Model):
    label: str
    score: float = Field(ge=0, le=1)
    probabilities: dict[str, float]


class ClassifyResponse(_Model):
    model_version: str
    predictions: list[PredictionBody]


class JobAccepted(_Model):
    job_id: str
    status: Literal["queued"] = "queued"


class JobStatusResponse(_Model):
    job_id: str
    status: Literal["queued", "done", "failed"]
    model_version: str | None = None
    predictions: list[PredictionBody] | None = None
    error: str | None = None


class HealthResponse(_Model):
    status: Literal["ok"] = "ok"
    model_version: str


class ErrorResponse(_Model):
    error: str
    message: str
    details: list[dict[str, Any]] | None = None


# -- API Gateway's copy of the request contract --------------------------------------------

DRAFT_4 = "http://json-schema.org/draft-04/schema#"
# keywords whose value maps names to schemas, not keywords to values
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")


def gateway_request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in draft 4, the dialect of API Gateway's request validator.

    pydantic writes draft 2020-12: the references into ``$defs`` are inlined (API Gateway
    resolves no local references), ``const`` becomes a one-value ``enum`` and a numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` draft 4's boolean form. ``anyOf``, ``oneOf``,
    ``required`` and ``type: null`` are draft 4 already and stay as they are.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {"$schema": DRAFT_4, **_as_draft_4(schema, definitions)}


def _as_draft_4(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_as_draft_4(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _as_draft_4(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
    converted: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in _SCHEMA_MAPS:
            converted[keyword] = {name: _as_draft_4(schema, definitions) for name, schema in value.items()}
        elif keyword == "const":
            converted["enum"] = [value]
        elif keyword in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            converted[keyword.removeprefix("exclusive").lower()] = value
            converted[keyword] = True
        else:
            converted[keyword] = _as_draft_4(value, definitions)
    return converted
