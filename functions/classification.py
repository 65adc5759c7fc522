"""Classifying a list of texts with the model being served, measured per model version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from functions.observability import count, milliseconds, model_metrics
from functions.sentiment_model import Prediction, SentimentModel


@dataclass(frozen=True)
class Classification:
    model_version: str
    predictions: list[Prediction]


def classify_texts(
    current_model: Callable[[], SentimentModel], texts: list[str], *, explain: bool = False
) -> Classification:
    """Predictions in input order, each with its explanation if ``explain``; raises
    `ModelUnavailableError` when no model is served."""
    model = current_model()
    started = time.perf_counter()
    predictions = model.classify(texts, explain=explain)
    with model_metrics(model.version) as metric:
        count(metric, "Predictions", len(texts))
        milliseconds(metric, "Latency", time.perf_counter() - started)
    return Classification(model.version, predictions)
