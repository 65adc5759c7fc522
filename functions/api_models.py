"""Request and response models of the HTTP API: the one definition of the request contract.

Powertools validates bodies with them and publishes them in the OpenAPI document; the CDK app
gives API Gateway's request validator `gateway_request_schema` of the same models; the jobs
consumer validates a stored request with `StoredJobRequest`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_serializer, model_validator

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
    for name in ("text", "texts"):
        schema["properties"][name].pop("default", None)
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["texts"]}]


class ClassifyRequest(_Request):
    """Exactly one of ``text`` and ``texts``."""

    model_config = ConfigDict(json_schema_extra=_exactly_one_of_text_and_texts)

    # None only when the field is absent: pydantic does not validate defaults, and a null sent
    # is no string and no list. repr=False: a request is never printed with its texts
    # (Powertools logs route arguments at DEBUG).
    texts: ClassifyTexts = Field(None, repr=False)
    text: Text = Field(None, repr=False)
    explain: bool = Field(
        False,
        description=(
            "true: each prediction also lists, as `explanation`, the words and n-grams that moved it most, "
            "with signed weights towards its label; false or absent: predictions carry no `explanation`"
        ),
    )

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


def _no_null_default(field_schema: dict[str, Any]) -> None:
    # a field that is absent or a value, never null: its schema carries no `null` default
    field_schema.pop("default", None)


# DESIGN.md, Predictions: functions.sentiment_model.ABSTENTION_REASONS (a test holds them equal;
# this module stays free of the model's imports, since the CDK app imports it)
AbstentionReason = Literal["unsupported_language", "no_evidence"]
Probability = Annotated[float, Field(ge=0, le=1)]


class AbstentionBody(_Model):
    reason: AbstentionReason = Field(
        description=(
            "unsupported_language: the text is confidently in a language the model was not trained on "
            "(GET /model lists its languages); no_evidence: the text holds nothing the model has learned from"
        )
    )
    message: str = Field(description="The reason in words")


class ExplanationTermBody(_Model):
    text: str = Field(description="A word or n-gram of the text, its words separated by spaces")
    weight: float = Field(description="How much it moved the prediction: positive towards `label`, negative against")


class PredictionBody(_Model):
    """The prediction object (DESIGN.md): a label with calibrated probabilities, or an abstention."""

    label: str | None = Field(description="One of the model's labels; null when the service abstains")
    score: Probability | None = Field(description="The probability of `label`; null when the service abstains")
    probabilities: dict[str, Probability] | None = Field(
        description="The calibrated probability of every label; null when the service abstains"
    )
    language: str = Field(description='The detected language (ISO 639-1), "und" when undetermined')
    abstained: AbstentionBody | None = Field(
        description="null when the service answered; otherwise why it gives no label"
    )
    explanation: list[ExplanationTermBody] = Field(
        None,
        description="Only when the request asked for it (`explain: true`): the terms that moved the prediction most",
        json_schema_extra=_no_null_default,
    )

    @model_serializer(mode="wrap")
    def _explanation_only_when_asked_for(self, handler):
        # no return annotation: the document keeps this model's own schema
        data = handler(self)
        if self.explanation is None:
            data.pop("explanation", None)
        return data


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


class CalibrationFigures(_Model):
    model_config = ConfigDict(extra="allow")

    accuracy: float = Field(ge=0, le=1, description="The share of right answers")
    expected_calibration_error: float = Field(
        ge=0, le=1, description="ECE: how far the answers' probabilities are from how often they are right"
    )
    texts: int = Field(None, ge=0, description="The texts of the set", json_schema_extra=_no_null_default)
    mean_confidence: float = Field(
        None, ge=0, le=1, description="The mean probability of the answers", json_schema_extra=_no_null_default
    )


class ModelCalibration(_Model):
    """How the probabilities were calibrated, and how well they mean what they say on each
    evaluation set (the other fields, by the set's name)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, CalibrationFigures]

    method: str = Field(None, description="How the probabilities are calibrated", json_schema_extra=_no_null_default)
    parameters: dict[str, float] = Field(
        None, description="The fitted parameters of the method", json_schema_extra=_no_null_default
    )
    fitted_on: dict[str, int] = Field(
        None, description="The texts of each part the method was fitted on", json_schema_extra=_no_null_default
    )
    shares: dict[str, float] = Field(
        None, description="The share of the fit's weight each part has", json_schema_extra=_no_null_default
    )


class ModelLanguages(_Model):
    model_config = ConfigDict(extra="allow")

    training: dict[str, float] = Field(description="The share of each language (ISO 639-1) in the training texts")
    supported: list[str] = Field(
        description=(
            "The languages the service answers in; on text confidently in another it abstains (unsupported_language)"
        )
    )


class ModelCard(_Model):
    """The card (card.json) of the bundle being served, as published: these fields and more."""

    # The card is served as it is: a field this model does not name passes through, and the
    # fields of newer bundles are absent from older ones (never null).
    model_config = ConfigDict(extra="allow")

    version: str
    architecture: str
    labels: list[str] = Field(
        None, description="The labels predictions choose from", json_schema_extra=_no_null_default
    )
    files: dict[str, Any] = Field(description="The size and sha256 of every file of the bundle")
    metrics: dict[str, Any] = Field(description="Accuracy of the exported and quantized models, sizes")
    calibration: ModelCalibration = Field(
        None,
        description="How well the probabilities mean what they say, by evaluation set (newer bundles)",
        json_schema_extra=_no_null_default,
    )
    languages: ModelLanguages = Field(
        None, description="The languages trained on and answered in (newer bundles)", json_schema_extra=_no_null_default
    )
    limitations: list[str] = Field(
        None,
        description="What the model does not handle, in sentences (newer bundles)",
        json_schema_extra=_no_null_default,
    )


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
