"""Request and response models of the HTTP API (validated by Powertools, published as OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from functions.contract import MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY, MAX_TEXTS_PER_JOB

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]


class _Request(BaseModel):
    # strict: a number is not a text; forbid: a misspelt field is an error, not ignored
    model_config = ConfigDict(strict=True, extra="forbid")


class ClassifyRequest(_Request):
    """Either ``text`` or ``texts``."""

    # repr=False: a request is never printed with its texts (Powertools logs route arguments at DEBUG)
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS_PER_CLASSIFY)] | None = Field(None, repr=False)
    text: Text | None = Field(None, repr=False)

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClassifyRequest":
        if (self.texts is None) == (self.text is None):
            raise ValueError("give either 'text' or 'texts', not both and not neither")
        return self

    def all_texts(self) -> list[str]:
        return self.texts if self.texts is not None else [self.text]


class JobRequest(_Request):
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS_PER_JOB)] = Field(repr=False)


class PredictionBody(BaseModel):
    label: str
    score: float = Field(ge=0, le=1)
    probabilities: dict[str, float]


class ClassifyResponse(BaseModel):
    model_version: str
    predictions: list[PredictionBody]


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"] = "queued"


class JobStatusResponse(BaseModel):
    job_id: str
    status: Literal["queued", "done", "failed"]
    model_version: str | None = None
    predictions: list[PredictionBody] | None = None
    error: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model_version: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    details: list[dict[str, Any]] | None = None
