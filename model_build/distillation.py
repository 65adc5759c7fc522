"""Knowledge distillation: a teacher labels the reviews the archive leaves unlabelled, and the
served student learns from its soft labels.

The teacher is an ensemble of two readers:

* the first-phase model (trained on the labelled training reviews only, calibrated on held-out
  ones), which reads whole reviews;
* VADER (Hutto & Gilbert, 2014), a valence lexicon with rules for negation, intensifiers,
  contrast ("..., but ...") and emphasis, which reads sentences.

It labels the unlabelled reviews of the archive (``train/unsup``, never the test split; a copy of
the archive without them has none) with the model's calibrated probabilities, and new crops of
them and of the labelled training reviews (sentences and word windows) with the mean of their
review's probability and VADER's score of the crop: the review's alone where VADER finds no
sentiment in the crop, and for labels other than the default negative/positive. The refit (the
student, which is served) trains on these besides the labelled data.

Torch-free; the same seed gives the same examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model_build.lexicon import compound_scores
from model_build.preprocess import DEFAULT_LABELS
from model_build.short_text import Examples, crop_pieces

TEACHER = (
    "ensemble: the first-phase model (calibrated) on whole reviews; the mean of its review "
    "probability and VADER's score on each crop"
)
VADER_SHARE = 0.5  # of a crop's target, where VADER finds sentiment in it


def review_examples(probabilities: np.ndarray, texts: Sequence[str], *, weight: float) -> Examples:
    """The unlabelled ``texts`` with the teacher's ``probabilities`` as targets."""
    targets = probabilities.astype(np.float32)
    return Examples(list(texts), targets / targets.sum(axis=1, keepdims=True), np.full(len(texts), weight, np.float32))


def crop_examples(
    probabilities: np.ndarray,
    texts: Sequence[str],
    labels: tuple[str, ...],
    *,
    sentences_per_text: int,
    windows_per_text: int,
    window_words: int,
    weight: float,
    seed: int,
) -> Examples:
    """Crops of ``texts`` (unlabelled and training reviews), each with its review's teacher ``probabilities``,
    averaged with VADER's score of the crop (default labels, where VADER finds sentiment)."""
    pieces, owners = crop_pieces(
        texts, sentences_per_text=sentences_per_text, windows_per_text=windows_per_text,
        window_words=window_words, seed=seed,
    )  # fmt: skip
    targets = probabilities[owners].astype(np.float64)
    if tuple(labels) == DEFAULT_LABELS and len(pieces):
        compound = compound_scores(pieces)
        judged = compound != 0.0
        positive = 0.5 + 0.5 * compound[judged]
        vader = np.stack([1.0 - positive, positive], axis=1)
        targets[judged] = (1.0 - VADER_SHARE) * targets[judged] + VADER_SHARE * vader
    targets /= targets.sum(axis=1, keepdims=True)
    return Examples(pieces, targets.astype(np.float32), np.full(len(pieces), weight, dtype=np.float32))
