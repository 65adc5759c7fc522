"""Classifying a list of texts with the model it is routed to, measured per model version."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

from functions.observability import count, logger, milliseconds, model_metrics, role_count
from functions.sentiment_model import Prediction, SentimentModel


class ModelRouter(Protocol):
    """Which model answers a unit of work (`functions.model_store.ModelStore`)."""

    def route(self, key: str | None = None) -> SentimentModel: ...

    def role(self, version: str) -> str | None: ...


@dataclass(frozen=True)
class Classification:
    model_version: str
    predictions: list[Prediction]


def classify_texts(models: ModelRouter, texts: list[str], *, explain: bool = False) -> Classification:
    """Predictions in input order, all by the one model the texts are routed to, each with its
    explanation if ``explain``; raises `ModelUnavailableError` when no model is served."""
    model = models.route()
    role = models.role(model.version)
    started = time.perf_counter()
    try:
        predictions = model.classify(texts, explain=explain)
    except Exception:
        role_count(role, "Errors", 1)
        raise
    with model_metrics(model.version) as metric:
        count(metric, "Predictions", len(texts))
        milliseconds(metric, "Latency", time.perf_counter() - started)
    role_count(role, "Predictions", len(texts))
    return Classification(model.version, predictions)


def classification_body(models: ModelRouter, texts: list[str], *, explain: bool = False) -> str:
    """The JSON body of a ``POST /classify`` answer (``ClassifyResponse`` of the OpenAPI document)
    for ``texts``, logged without them. Written here rather than through pydantic: the predictions
    are built to the document's models (tests hold every one to it), and validating them again on
    the way out took a fifth of a 64-review request."""
    result = classify_texts(models, texts, explain=explain)
    logger.info(
        "classified",
        extra={
            "texts": len(texts),
            "characters": sum(map(len, texts)),
            "explain": explain,
            "model_version": result.model_version,
        },
    )
    body = {"model_version": result.model_version, "predictions": [p.to_dict() for p in result.predictions]}
    return json.dumps(body, separators=(",", ":"))
