"""Calibration: the measure (ECE) and the fit of the temperature by n-gram count."""

import numpy as np
import pytest

from model_build.calibration import expected_calibration_error, fit_calibration
from model_build.preprocess import Calibration

pytestmark = pytest.mark.unit


def test_ece_of_hand_made_answers():
    # bin (0.8, 0.867]: 0.85 twice, one right -> |0.5 - 0.85| * 2/4; bin (0.933, 1]: 1.0 twice, both right -> 0
    assert expected_calibration_error([0.85, 0.85, 1.0, 1.0], [True, False, True, True]) == pytest.approx(0.175)
    assert expected_calibration_error([], []) == 0.0
    with pytest.raises(ValueError):
        expected_calibration_error([0.5], [True, False])


def test_perfectly_calibrated_answers_have_a_small_ece():
    rng = np.random.default_rng(0)
    confidences = rng.uniform(0.5, 1.0, 200_000)
    correct = rng.random(200_000) < confidences
    assert expected_calibration_error(confidences, correct) < 0.01


def synthetic(true: Calibration, count: int, seed: int):
    """Logits and n-gram counts, with labels drawn from the probabilities ``true`` gives them."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 800, count)
    margins = rng.normal(0, 2.5, count)
    logits = np.stack([-margins / 2, margins / 2], axis=1)
    positive = true.probabilities(logits, counts)[:, 1]
    labels = (rng.random(count) < positive).astype(np.int64)
    return logits, counts, labels


def test_the_fit_recovers_the_temperature_that_made_the_labels():
    true = Calibration(log_scale=-1.2, evidence_power=0.35)
    logits, counts, labels = synthetic(true, 40_000, seed=1)

    fitted = fit_calibration(logits, counts, labels)

    assert fitted.log_scale == pytest.approx(true.log_scale, abs=0.15)
    assert fitted.evidence_power == pytest.approx(true.evidence_power, abs=0.03)
    # and it calibrates answers it was not fitted on
    logits, counts, labels = synthetic(true, 40_000, seed=2)
    probabilities = fitted.probabilities(logits, counts)
    raw = Calibration().probabilities(logits, counts)
    correct = probabilities.argmax(1) == labels
    assert expected_calibration_error(probabilities.max(1), correct) < 0.015
    assert expected_calibration_error(raw.max(1), correct) > 0.05


def test_weights_decide_which_examples_the_fit_follows():
    short = synthetic(Calibration(log_scale=-2.0), 20_000, seed=3)
    long = synthetic(Calibration(log_scale=0.5), 20_000, seed=4)
    logits, counts, labels = (np.concatenate(parts) for parts in zip(short, long))
    weights = np.concatenate([np.full(20_000, 0.999), np.full(20_000, 0.001)])

    assert fit_calibration(logits, counts, labels, weights).log_scale < -1.5
