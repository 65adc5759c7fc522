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


def _answers(predicted: list[int], truth: list[int], classes: int = 2) -> Evaluation:
    """An evaluation whose answers are ``predicted`` (one-hot probabilities) against ``truth``."""
    probabilities = np.eye(classes, dtype=np.float32)[predicted]
    return Evaluation(float(np.mean(np.asarray(predicted) == np.asarray(truth))), probabilities, seconds=0.0)


def _right(count: int, of: int, truth: list[int]) -> list[int]:
    """``truth`` with all but the first ``count`` of its first ``of`` answers wrong (two labels)."""
    return [label if i < count or i >= of else 1 - label for i, label in enumerate(truth)]


TRUTH = [0, 1] * 500  # balanced: answering one label is right half the time


def test_a_bundle_at_the_floor_and_within_the_drop_passes():
    int8, fp32 = _answers(_right(850, 1000, TRUTH), TRUTH), _answers(_right(852, 1000, TRUTH), TRUTH)
    verdict = quality_gate(int8, fp32, TRUTH, min_accuracy=0.85, max_quantization_drop=0.005)
    assert verdict.passed and verdict.reasons == []
    assert verdict.int8_accuracy == 0.85 and verdict.majority_accuracy == 0.5


@pytest.mark.parametrize(
    ("int8", "fp32", "reasons"),
    [
        (840, 842, ["accuracy 0.8400 is below the floor"]),
        (900, 910, ["accuracy is 1.00 points below fp32", "macro-F1 is 1.00 points below fp32"]),
    ],
)
def test_a_bundle_below_the_floor_or_too_far_below_fp32_fails(int8, fp32, reasons):
    measured = _answers(_right(int8, 1000, TRUTH), TRUTH), _answers(_right(fp32, 1000, TRUTH), TRUTH)
    verdict = quality_gate(*measured, TRUTH, min_accuracy=0.85, max_quantization_drop=0.005)
    assert not verdict.passed
    assert len(verdict.reasons) == len(reasons)
    for reason, expected in zip(verdict.reasons, reasons, strict=True):
        assert expected in reason


def test_always_answering_the_most_common_label_fails_whatever_the_floor():
    truth = [0] * 80 + [1] * 15 + [2] * 5
    majority = _answers([0] * 100, truth, classes=3)
    verdict = quality_gate(majority, majority, truth, min_accuracy=0.0, max_quantization_drop=0.005)
    assert not verdict.passed
    (only,) = verdict.reasons
    assert "does not beat always answering the most common label (0.8000)" in only


def test_macro_f1_floor_catches_a_model_that_ignores_a_rare_label():
    truth = [0] * 45 + [1] * 45 + [2] * 10
    predicted = [0] * 45 + [1] * 45 + [0] * 10  # 90% right, label 2 never answered
    answers = _answers(predicted, truth, classes=3)
    verdict = quality_gate(answers, answers, truth, min_accuracy=0.85, min_macro_f1=0.8, max_quantization_drop=0.005)
    assert not verdict.passed
    (only,) = verdict.reasons
    assert only.startswith("int8 macro-F1 0.6") and "below the floor 0.8000" in only


def test_the_verdict_goes_to_the_card_with_its_thresholds():
    int8, fp32 = _answers(_right(500, 1000, TRUTH), TRUTH), _answers(_right(600, 1000, TRUTH), TRUTH)
    verdict = quality_gate(int8, fp32, TRUTH, min_accuracy=0.7, max_quantization_drop=0.01)
    card = verdict.to_card()
    assert card["passed"] is False and len(card["reasons"]) == 4  # floor, majority, both drops
    assert (card["min_accuracy"], card["max_quantization_drop"], card["min_macro_f1"]) == (0.7, 0.01, 0.0)
