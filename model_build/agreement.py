"""The export check: ONNX fp32 must reproduce the torch model, text by text."""

from __future__ import annotations

import numpy as np

from model_build.evaluate import Evaluation

# probabilities within this, and the same predicted labels
AGREEMENT_TOLERANCE = 1e-4


class ExportMismatchError(Exception):
    """The ONNX fp32 graph does not reproduce the torch model."""


def check_agreement(torch_fp32: Evaluation, onnx_fp32: Evaluation) -> dict[str, float]:
    """The largest probability difference and the share of equal labels; raises
    `ExportMismatchError` beyond `AGREEMENT_TOLERANCE`."""
    expected, actual = torch_fp32.probabilities, onnx_fp32.probabilities
    difference = float(np.abs(expected - actual).max())
    flipped = expected.argmax(1) != actual.argmax(1)
    # A label may flip only where torch itself sits on the decision boundary: its two most
    # probable labels within twice the tolerance of each other.
    top_two = np.sort(expected, axis=1)[:, -2:]
    margin = (top_two[:, 1] - top_two[:, 0]) / 2
    flips_off_boundary = int((flipped & (margin > AGREEMENT_TOLERANCE)).sum())
    if difference > AGREEMENT_TOLERANCE or flips_off_boundary:
        raise ExportMismatchError(
            f"ONNX fp32 disagrees with torch: max probability difference {difference:.2e}, "
            f"{flips_off_boundary} labels flipped"
        )
    return {"max_probability_difference": difference, "label_agreement": float((~flipped).mean())}
