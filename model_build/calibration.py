"""How well probabilities mean what they say, and the fit that makes them.

`expected_calibration_error` is the measure the card and ``make bench-quality`` report;
`fit_calibration` fits the `Calibration` that serving applies to the model's logits.
Torch-free.
"""

from __future__ import annotations

import numpy as np

from model_build.preprocess import Calibration, lexicon_sized

CALIBRATION_BINS = 15


def expected_calibration_error(confidences, correct, bins: int = CALIBRATION_BINS) -> float:
    """ECE: the mean over equal-width confidence bins of |accuracy - mean confidence|, each bin
    weighted by its share of the answers. ``confidences`` are the probabilities of the answered
    labels, ``correct`` whether each answer was right. 0 for no answers."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidences.shape != correct.shape:
        raise ValueError("confidences and correct must have the same length")
    if len(confidences) == 0:
        return 0.0
    # bin b holds (b/bins, (b+1)/bins]; a confidence of 0 joins the first bin
    which = np.clip(np.ceil(confidences * bins).astype(np.int64) - 1, 0, bins - 1)
    totals = np.bincount(which, minlength=bins)
    gaps = np.abs(np.bincount(which, correct, bins) - np.bincount(which, confidences, bins))
    return float(gaps.sum() / len(confidences)) if totals.any() else 0.0


# Texts of at most this many n-gram ids (known n-grams once each, the unknown ones sharing one
# id: a sentence or two) get VADER's score in their logits; hardly any review is that short, and
# VADER's rules in pure Python cost far more on a long text than the whole model does.
LEXICON_MAX_NGRAMS = 64
# The lexicon weight is kept in [0, MAX_LEXICON_WEIGHT] (a compound score of 0.9 then moves a logit
# by at most 7.2) and pulled towards 0 by an L2 penalty: on a small set that VADER alone separates,
# the likelihood alone would push it without bound.
MAX_LEXICON_WEIGHT = 8.0
LEXICON_WEIGHT_PENALTY = 1e-3


def fit_calibration(
    logits, ngram_counts, labels, weights=None, *, compound=None, lexicon_max_ngrams: int = LEXICON_MAX_NGRAMS,
    steps: int = 200,
) -> Calibration:  # fmt: skip
    """The `Calibration` (a temperature that depends on the n-gram count) that minimizes the
    weighted negative log-likelihood of ``labels`` given ``logits``, by Newton's method on its
    two parameters (with a line search; the loss is convex in the scale, not in its log), for
    any number of labels. With ``compound`` (VADER's score of each text, two labels only), the
    lexicon weight of the texts of at most ``lexicon_max_ngrams`` ids is fitted too, jointly."""
    logits = np.asarray(logits, dtype=np.float64)
    counts = np.asarray(ngram_counts, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    features = np.log(np.maximum(counts, 1.0))
    design = np.stack([np.ones_like(features), features], axis=1)  # log scale = design @ theta
    if compound is None or logits.shape[1] != 2:
        theta = _fit(logits, design, labels, weights, steps)
        return Calibration(log_scale=float(theta[0]), evidence_power=float(theta[1]))
    short = lexicon_sized(counts, lexicon_max_ngrams)
    direction = np.where(short, np.asarray(compound, dtype=np.float64), 0.0)[:, None] * np.array([[-0.5, 0.5]])
    theta = _fit(logits, design, labels, weights, steps, direction)
    return Calibration(
        log_scale=float(theta[0]), evidence_power=float(theta[1]),
        lexicon_weight=float(theta[2]), lexicon_max_ngrams=int(lexicon_max_ngrams),
    )  # fmt: skip


def _fit(logits, design, labels, weights, steps: int, direction=None) -> np.ndarray:
    """Newton's method (with a backtracking line search) on the two parameters of the log scale
    and, with a ``direction`` (each text's lexicon shift per unit of weight), on the lexicon
    weight, kept in [0, `MAX_LEXICON_WEIGHT`] and penalized by `LEXICON_WEIGHT_PENALTY`."""
    rows = np.arange(len(labels))
    prior = 1.0 / len(labels)
    chosen = logits[rows, labels]
    size = 2 if direction is None else 3
    chosen_direction = None if direction is None else direction[rows, labels]

    def loss_and_derivatives(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        scale = np.exp(design @ theta[:2])
        scaled = logits * scale[:, None]
        if direction is not None:
            scaled = scaled + theta[2] * direction
        scaled_max = scaled.max(axis=1, keepdims=True)
        exponentials = np.exp(scaled - scaled_max)
        probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
        log_normalizer = np.log(exponentials.sum(axis=1)) + scaled_max[:, 0]
        # d loss / d s for each example, with s = log scale: scale * (E_p[z] - z_y)
        mean_logit = (probabilities * logits).sum(axis=1)
        first = scale * (mean_logit - chosen)
        variance = (probabilities * logits**2).sum(axis=1) - mean_logit**2
        second = first + scale**2 * variance
        gradient = np.zeros(size)
        hessian = np.zeros((size, size))
        gradient[:2] = design.T @ (weights * first)
        hessian[:2, :2] = design.T @ (design * (weights * second)[:, None])
        if direction is None:
            loss = float(weights @ (log_normalizer - scale * chosen))
        else:
            weight = theta[2]
            loss = float(weights @ (log_normalizer - scale * chosen - weight * chosen_direction))
            loss += 0.5 * LEXICON_WEIGHT_PENALTY * weight**2
            mean_direction = (probabilities * direction).sum(axis=1)
            covariance = (probabilities * logits * direction).sum(axis=1) - mean_logit * mean_direction
            gradient[2] = weights @ (mean_direction - chosen_direction) + LEXICON_WEIGHT_PENALTY * weight
            hessian[2, 2] = weights @ ((probabilities * direction**2).sum(axis=1) - mean_direction**2)
            hessian[2, 2] += LEXICON_WEIGHT_PENALTY
            hessian[:2, 2] = hessian[2, :2] = design.T @ (weights * scale * covariance)
        # a standard normal prior on the evidence power, worth one example: a small calibration
        # set (a user's own data) cannot push it to where long texts get absurd scales
        loss += 0.5 * prior * theta[1] ** 2
        gradient[1] += prior * theta[1]
        hessian[1, 1] += prior
        return loss, gradient, hessian + 1e-9 * np.eye(size)

    theta = np.zeros(size)
    loss, gradient, hessian = loss_and_derivatives(theta)
    for _ in range(steps):
        # the loss is convex in the scale but not in its log: where the Hessian is not positive
        # definite (an under-confident model, whose scale must grow), it is shifted until it is,
        # so that the step still goes downhill
        lowest = float(np.linalg.eigvalsh(hessian).min())
        if lowest < 1e-6:
            hessian = hessian + (1e-3 - lowest) * np.eye(size)
        step = np.linalg.solve(hessian, gradient)
        shrink = 1.0
        while shrink > 1e-6:  # a backtracking line search keeps every step a descent
            candidate = theta - shrink * step
            if size == 3:
                candidate[2] = min(max(candidate[2], 0.0), MAX_LEXICON_WEIGHT)
            with np.errstate(over="ignore", invalid="ignore"):  # a far step overflows: it is not taken
                candidate_loss, candidate_gradient, candidate_hessian = loss_and_derivatives(candidate)
            if candidate_loss <= loss:
                break
            shrink /= 2
        else:
            break
        converged = loss - candidate_loss < 1e-12
        theta, loss, gradient, hessian = candidate, candidate_loss, candidate_gradient, candidate_hessian
        if converged:
            break
    return theta
