"""Accuracy of a torch model on encoded reviews, and of an ONNX graph run by the serving code on raw texts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from functions.sentiment_model import SentimentModel, function_vcpus
from model_build.lexicon import lexicon_scores
from model_build.preprocess import PADDING_ID, Calibration, Preprocessor, pad

# `evaluate_served` hands serving this many texts per call: a progress bar, and bounded memory.
SERVED_TEXTS_AT_ONCE = 2048


@dataclass
class Evaluation:
    accuracy: float
    probabilities: np.ndarray  # [n, classes], in the input order
    seconds: float


def length_sorted_batches(sequences: Sequence[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches of similar lengths, so that padding stays small."""
    order = np.argsort([len(s) for s in sequences], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _evaluate(
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    batch_size: int,
    description: str,
    progress: bool,
) -> Evaluation:
    started = time.perf_counter()
    probabilities: np.ndarray | None = None
    batches = list(length_sorted_batches(sequences, batch_size))
    for indices in tqdm(batches, desc=description, leave=False, disable=not progress):
        batch = predict(pad([sequences[i] for i in indices]), indices)
        if probabilities is None:
            probabilities = np.zeros((len(sequences), batch.shape[1]), dtype=np.float32)
        probabilities[indices] = batch
    assert probabilities is not None, "nothing to evaluate"
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    return Evaluation(accuracy, probabilities, time.perf_counter() - started)


def evaluate_torch(
    model: torch.nn.Module,
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    device: torch.device,
    batch_size: int = 256,
    progress: bool = True,
    description: str = "torch fp32",
    calibration: Calibration | None = None,
    texts: Sequence[str] | None = None,
) -> Evaluation:
    """Accuracy and probabilities of a torch model on encoded texts, with serving's
    ``calibration`` of its logits (none: the plain softmax); with the ``texts`` encoded, VADER's
    score of the short ones as serving adds it."""
    calibration = calibration or Calibration()
    logits_of = torch_logits(model, device)
    counts = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    compound = None if texts is None else lexicon_scores(calibration, texts, counts)

    def predict(ids: np.ndarray, indices: np.ndarray) -> np.ndarray:
        return calibration.probabilities(
            logits_of(ids), (ids != PADDING_ID).sum(axis=1), None if compound is None else compound[indices]
        )

    return _evaluate(predict, sequences, labels, batch_size, description, progress)


def torch_logits(model: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """A function of padded ids to the model's logits (float32, CPU), in eval mode."""

    @torch.no_grad()
    def logits(ids: np.ndarray) -> np.ndarray:
        was_training = model.training
        model.eval()
        try:
            return model(torch.from_numpy(ids).to(device)).float().cpu().numpy()
        finally:
            model.train(was_training)

    return logits


def evaluate_served(
    model_path: Path,
    preprocessor: Preprocessor,
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    version: str,
    progress: bool = True,
    description: str = "onnx",
) -> Evaluation:
    """Accuracy of an ONNX graph run as serving runs it: `functions.sentiment_model.SentimentModel`
    on the raw texts (its own encoding, batching and session options), so the figure is the one
    the service delivers. Raises `BundleError` when serving could not load or run the graph."""
    if not texts:
        raise ValueError("nothing to evaluate")
    started = time.perf_counter()
    model = SentimentModel.load(model_path, preprocessor, {"version": version}, threads=function_vcpus())
    starts = range(0, len(texts), SERVED_TEXTS_AT_ONCE)
    parts = [
        model.probabilities(texts[start : start + SERVED_TEXTS_AT_ONCE])
        for start in tqdm(starts, desc=description, leave=False, disable=not progress)
    ]
    probabilities = np.concatenate(parts)
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    return Evaluation(accuracy, probabilities, time.perf_counter() - started)
