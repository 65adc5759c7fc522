"""Calibration: the measure (ECE) and the fit of the temperature by n-gram count."""

import json

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


def test_an_under_confident_model_is_sharpened_with_three_labels():
    # the true scale is e^1.5: the raw logits are far too timid, where the loss is not convex in the log scale
    rng = np.random.default_rng(5)
    count = 20_000
    logits = rng.normal(0, 0.5, (count, 3))
    counts = rng.integers(1, 400, count)
    true = Calibration(log_scale=1.5, evidence_power=0.0)
    probabilities = true.probabilities(logits, counts)
    labels = (rng.random(count)[:, None] > probabilities.cumsum(axis=1)).sum(axis=1)

    fitted = fit_calibration(logits, counts, labels)

    assert fitted.log_scale == pytest.approx(1.5, abs=0.2)
    assert fitted.evidence_power == pytest.approx(0.0, abs=0.05)


def test_weights_decide_which_examples_the_fit_follows():
    short = synthetic(Calibration(log_scale=-2.0), 20_000, seed=3)
    long = synthetic(Calibration(log_scale=0.5), 20_000, seed=4)
    logits, counts, labels = (np.concatenate(parts) for parts in zip(short, long))
    weights = np.concatenate([np.full(20_000, 0.999), np.full(20_000, 0.001)])

    assert fit_calibration(logits, counts, labels, weights).log_scale < -1.5


def with_lexicon(true: Calibration, count: int, seed: int):
    """`synthetic` logits and counts with a VADER-like score of each text, and labels drawn from
    the probabilities ``true`` gives them with that score."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 600, count)
    margins = rng.normal(0, 2.5, count)
    logits = np.stack([-margins / 2, margins / 2], axis=1)
    compound = np.clip(rng.normal(0, 0.6, count), -1, 1)
    compound[counts > true.lexicon_max_ngrams] = rng.uniform(-1, 1, np.sum(counts > true.lexicon_max_ngrams))
    positive = true.probabilities(logits, counts, compound)[:, 1]
    labels = (rng.random(count) < positive).astype(np.int64)
    return logits, counts, labels, compound


def test_the_fit_recovers_the_lexicon_weight_of_short_texts_and_ignores_long_ones():
    true = Calibration(log_scale=-1.0, evidence_power=0.2, lexicon_weight=3.0, lexicon_max_ngrams=256)
    logits, counts, labels, compound = with_lexicon(true, 60_000, seed=5)

    fitted = fit_calibration(logits, counts, labels, compound=compound, lexicon_max_ngrams=256)

    assert fitted.lexicon_max_ngrams == 256
    assert fitted.lexicon_weight == pytest.approx(3.0, abs=0.3)
    assert fitted.log_scale == pytest.approx(true.log_scale, abs=0.2)
    # the long texts' scores (noise that made no label) are not read
    assert fitted.reads_lexicon(np.array([0, 1, 256, 257])).tolist() == [False, True, True, False]
    logits, counts, labels, compound = with_lexicon(true, 40_000, seed=6)
    probabilities = fitted.probabilities(logits, counts, compound)
    without = fit_calibration(logits, counts, labels).probabilities(logits, counts)
    correct = probabilities.argmax(1) == labels
    assert expected_calibration_error(probabilities.max(1), correct) < 0.015
    assert (probabilities.argmax(1) == labels).mean() > (without.argmax(1) == labels).mean() + 0.02


def test_a_lexicon_that_alone_separates_the_labels_gets_a_bounded_weight():
    from model_build.calibration import MAX_LEXICON_WEIGHT

    labels = np.array([0, 1] * 50)
    compound = np.where(labels == 1, 0.8, -0.8)
    logits = np.zeros((100, 2))

    fitted = fit_calibration(logits, np.full(100, 10), labels, compound=compound)

    assert 0 < fitted.lexicon_weight <= MAX_LEXICON_WEIGHT
    assert np.isfinite(fitted.probabilities(logits, np.full(100, 10), compound)).all()


def test_without_scores_or_with_more_than_two_labels_no_lexicon_weight_is_fitted():
    logits, counts, labels = synthetic(Calibration(log_scale=-1.0), 2000, seed=7)
    assert fit_calibration(logits, counts, labels).lexicon_weight == 0.0
    three = np.concatenate([logits, np.zeros((len(logits), 1))], axis=1)
    assert fit_calibration(three, counts, labels, compound=np.ones(len(labels))).lexicon_weight == 0.0
    assert not Calibration().reads_lexicon(np.array([1, 2])).any()


def test_the_lexicon_weight_travels_in_preprocess_json_and_needs_two_labels():
    from model_build.preprocess import PreprocessConfig, PreprocessConfigError

    calibration = Calibration(log_scale=-0.5, lexicon_weight=2.5, lexicon_max_ngrams=256)
    assert PreprocessConfig.from_json(PreprocessConfig(calibration=calibration).to_json()).calibration == calibration
    # a bundle written before the lexicon weight existed reads as one without it
    raw = json.loads(PreprocessConfig().to_json())
    del raw["calibration"]["lexicon_weight"], raw["calibration"]["lexicon_max_ngrams"]
    old = PreprocessConfig.from_json(json.dumps(raw))
    assert old.calibration.lexicon_weight == 0.0
    with pytest.raises(PreprocessConfigError, match="exactly two labels"):
        PreprocessConfig(labels=("a", "b", "c"), calibration=calibration)
    with pytest.raises(PreprocessConfigError, match="lexicon_max_ngrams"):
        Calibration(lexicon_max_ngrams=-1)
