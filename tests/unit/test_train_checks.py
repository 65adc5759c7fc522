"""The export agreement check and the quality gate, on hand-made evaluations."""

from __future__ import annotations

import numpy as np
import pytest

from model_build.agreement import AGREEMENT_TOLERANCE, ExportMismatchError, check_agreement
from model_build.evaluate import Evaluation
from model_build.quality_gate import quality_gate

pytestmark = pytest.mark.unit


def _evaluation(positive: list[float], accuracy: float = 0.9) -> Evaluation:
    p = np.array(positive, dtype=np.float32)
    return Evaluation(accuracy, np.stack([1 - p, p], axis=1), seconds=0.0)


def test_identical_probabilities_agree():
    agreement = check_agreement(_evaluation([0.1, 0.8]), _evaluation([0.1, 0.8]))
    assert agreement == {"max_probability_difference": 0.0, "label_agreement": 1.0}


def test_a_difference_beyond_the_tolerance_is_a_mismatch():
    with pytest.raises(ExportMismatchError, match="max probability difference"):
        check_agreement(_evaluation([0.1, 0.8]), _evaluation([0.1, 0.8 + 10 * AGREEMENT_TOLERANCE]))


def test_a_label_may_flip_only_on_the_decision_boundary():
    torch_fp32, onnx_fp32 = _evaluation([0.500002, 0.9]), _evaluation([0.499998, 0.9])
    agreement = check_agreement(torch_fp32, onnx_fp32)
    assert agreement["label_agreement"] == 0.5


def test_a_bundle_at_the_floor_and_within_the_drop_passes():
    int8, fp32 = _evaluation([0.9], accuracy=0.85), _evaluation([0.9], accuracy=0.852)
    verdict = quality_gate(int8, fp32, min_accuracy=0.85, max_quantization_drop=0.005)
    assert verdict.passed and verdict.reasons == []


@pytest.mark.parametrize(
    ("int8", "fp32", "reason"),
    [(0.84, 0.842, "below the floor"), (0.90, 0.91, "points below fp32")],
)
def test_a_bundle_below_the_floor_or_too_far_below_fp32_fails(int8, fp32, reason):
    measured = _evaluation([0.9], accuracy=int8), _evaluation([0.9], accuracy=fp32)
    verdict = quality_gate(*measured, min_accuracy=0.85, max_quantization_drop=0.005)
    assert not verdict.passed
    (only,) = verdict.reasons
    assert reason in only


def test_the_verdict_goes_to_the_card_with_its_thresholds():
    int8, fp32 = _evaluation([0.9], accuracy=0.5), _evaluation([0.9], accuracy=0.6)
    verdict = quality_gate(int8, fp32, min_accuracy=0.7, max_quantization_drop=0.01)
    card = verdict.to_card()
    assert card["passed"] is False and len(card["reasons"]) == 2
    assert (card["min_accuracy"], card["max_quantization_drop"]) == (0.7, 0.01)
