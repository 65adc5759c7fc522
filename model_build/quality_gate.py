"""The quality gate: whether a bundle is good enough to be promoted (``current.json`` rewritten).

It judges the int8 model as served (`model_build.evaluate.evaluate_served`), for any number of
labels: its accuracy against a floor and against always answering the most common test label,
its macro-averaged F1 against a floor, and both figures against the fp32 export it was
quantized from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from model_build.evaluate import Evaluation
from model_build.label_metrics import macro_f1


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: list[str]  # why it failed, one sentence each
    min_accuracy: float
    min_macro_f1: float
    max_quantization_drop: float
    majority_accuracy: float  # of always answering the most common test label
    int8_accuracy: float
    int8_macro_f1: float
    fp32_accuracy: float
    fp32_macro_f1: float

    def to_card(self) -> dict[str, Any]:
        return asdict(self)


def quality_gate(
    int8: Evaluation,
    fp32: Evaluation,
    truth: np.ndarray,
    *,
    min_accuracy: float,
    max_quantization_drop: float,
    min_macro_f1: float = 0.0,
) -> GateVerdict:
    classes = int8.probabilities.shape[1]
    truth = np.asarray(truth, dtype=np.int64)
    majority = float(np.bincount(truth, minlength=classes).max() / len(truth))
    f1 = {
        name: macro_f1(e.probabilities.argmax(axis=1), truth, classes) for name, e in (("int8", int8), ("fp32", fp32))
    }
    reasons = []
    if int8.accuracy < min_accuracy:
        reasons.append(f"int8 accuracy {int8.accuracy:.4f} is below the floor {min_accuracy:.4f}")
    if int8.accuracy <= majority:
        reasons.append(
            f"int8 accuracy {int8.accuracy:.4f} does not beat always answering the most common label ({majority:.4f})"
        )
    if f1["int8"] < min_macro_f1:
        reasons.append(f"int8 macro-F1 {f1['int8']:.4f} is below the floor {min_macro_f1:.4f}")
    for figure, int8_value, fp32_value in (
        ("accuracy", int8.accuracy, fp32.accuracy),
        ("macro-F1", f1["int8"], f1["fp32"]),
    ):
        if fp32_value - int8_value > max_quantization_drop:
            reasons.append(
                f"int8 {figure} is {(fp32_value - int8_value) * 100:.2f} points below fp32 "
                f"(at most {max_quantization_drop * 100:.2f})"
            )
    return GateVerdict(
        not reasons, reasons, min_accuracy, min_macro_f1, max_quantization_drop, round(majority, 5),
        round(int8.accuracy, 5), round(f1["int8"], 5), round(fp32.accuracy, 5), round(f1["fp32"], 5),
    )  # fmt: skip
