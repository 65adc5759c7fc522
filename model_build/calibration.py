"""How well probabilities mean what they say, and the fit that makes them.

`expected_calibration_error` is the measure the card and ``make bench-quality`` report;
`fit_calibration` fits the `Calibration` that serving applies to the model's logits.
Torch-free.
"""

from __future__ import annotations

import numpy as np

from model_build.preprocess import Calibration

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


def fit_calibration(logits, ngram_counts, labels, weights=None, *, steps: int = 200) -> Calibration:
    """The `Calibration` (a temperature that depends on the n-gram count) that minimizes the
    weighted negative log-likelihood of ``labels`` given ``logits``, by Newton's method on its
    two parameters (the problem is convex in them)."""
    logits = np.asarray(logits, dtype=np.float64)
    features = np.log(np.maximum(np.asarray(ngram_counts, dtype=np.float64), 1.0))
    labels = np.asarray(labels, dtype=np.int64)
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    design = np.stack([np.ones_like(features), features], axis=1)  # log scale = design @ theta
    theta = np.zeros(2)
    chosen = logits[np.arange(len(labels)), labels]

    def loss_and_derivatives(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        scale = np.exp(design @ theta)
        scaled = logits * scale[:, None]
        scaled_max = scaled.max(axis=1, keepdims=True)
        exponentials = np.exp(scaled - scaled_max)
        probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
        log_normalizer = np.log(exponentials.sum(axis=1)) + scaled_max[:, 0]
        loss = float(weights @ (log_normalizer - scale * chosen))
        # d loss / d s for each example, with s = log scale: scale * (E_p[z] - z_y)
        mean_logit = (probabilities * logits).sum(axis=1)
        first = scale * (mean_logit - chosen)
        variance = (probabilities * logits**2).sum(axis=1) - mean_logit**2
        second = first + scale**2 * variance
        gradient = design.T @ (weights * first)
        hessian = design.T @ (design * (weights * second)[:, None]) + 1e-9 * np.eye(2)
        return loss, gradient, hessian

    loss, gradient, hessian = loss_and_derivatives(theta)
    for _ in range(steps):
        step = np.linalg.solve(hessian, gradient)
        shrink = 1.0
        while shrink > 1e-6:  # a backtracking line search keeps every step a descent
            candidate = theta - shrink * step
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
    return Calibration(log_scale=float(theta[0]), evidence_power=float(theta[1]))
