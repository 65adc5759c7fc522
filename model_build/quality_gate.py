"""The quality gate: whether a bundle is good enough to be promoted (``current.json`` rewritten).

It judges the int8 model by its accuracy as served (`model_build.evaluate.evaluate_served`),
against a floor and against the fp32 export it was quantized from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from model_build.evaluate import Evaluation


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: list[str]  # why it failed, one sentence each
    min_accuracy: float
    max_quantization_drop: float

    def to_card(self) -> dict[str, Any]:
        return asdict(self)


def quality_gate(
    int8: Evaluation, fp32: Evaluation, *, min_accuracy: float, max_quantization_drop: float
) -> GateVerdict:
    drop = fp32.accuracy - int8.accuracy
    reasons = []
    if int8.accuracy < min_accuracy:
        reasons.append(f"int8 accuracy {int8.accuracy:.4f} is below the floor {min_accuracy:.4f}")
    if drop > max_quantization_drop:
        reasons.append(f"int8 is {drop * 100:.2f} points below fp32 (at most {max_quantization_drop * 100:.2f})")
    return GateVerdict(not reasons, reasons, min_accuracy, max_quantization_drop)
