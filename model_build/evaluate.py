"""Accuracy of a torch model and of ONNX graphs on encoded reviews, batch by batch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import onnxruntime
import torch
from tqdm import tqdm

from model_build.preprocess import PreprocessConfig, pad


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
    predict: Callable[[np.ndarray], np.ndarray],
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
        batch = predict(pad([sequences[i] for i in indices]))
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
) -> Evaluation:
    was_training = model.training
    model.eval()

    @torch.no_grad()
    def predict(ids: np.ndarray) -> np.ndarray:
        logits = model(torch.from_numpy(ids).to(device))
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    try:
        return _evaluate(predict, sequences, labels, batch_size, description, progress)
    finally:
        model.train(was_training)


def evaluate_onnx(
    path: Path,
    preprocess: PreprocessConfig,
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    batch_size: int = 256,
    progress: bool = True,
    description: str = "onnx",
) -> Evaluation:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def predict(ids: np.ndarray) -> np.ndarray:
        return session.run([preprocess.output_name], {preprocess.input_name: ids})[0]

    return _evaluate(predict, sequences, labels, batch_size, description, progress)
