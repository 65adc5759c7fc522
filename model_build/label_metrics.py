"""Per-label quality of a classifier's answers: precision, recall, F1, the confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(predicted: np.ndarray, truth: np.ndarray, classes: int) -> np.ndarray:
    """``[truth, predicted]`` counts."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def per_label(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1, support) of each label; 0 where a ratio has nothing to count."""
    hits = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1, support


def macro_f1(predicted: np.ndarray, truth: np.ndarray, classes: int) -> float:
    """The mean F1 over the labels that occur in ``truth`` (as scikit-learn's, for those labels)."""
    return _macro(*per_label(confusion_matrix(predicted, truth, classes))[2:])


def _macro(f1: np.ndarray, support: np.ndarray) -> float:
    return float(f1[support > 0].mean())


def label_report(probabilities: np.ndarray, truth: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """What the card records of one evaluation: per-label figures, macro-F1, the confusion matrix."""
    predicted = np.asarray(probabilities).argmax(axis=1)
    matrix = confusion_matrix(predicted, truth, len(labels))
    precision, recall, f1, support = per_label(matrix)
    return {
        "per_label": {
            label: {
                "precision": round(float(precision[i]), 5),
                "recall": round(float(recall[i]), 5),
                "f1": round(float(f1[i]), 5),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "macro_f1": round(_macro(f1, support), 5),
        "confusion_matrix": {
            "rows": "true label",
            "columns": "predicted label",
            "labels": list(labels),
            "counts": matrix.tolist(),
        },  # fmt: skip
    }
