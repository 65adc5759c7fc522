"""VADER's score of a text, for training (soft labels, calibration) and serving (short texts).

VADER (Hutto & Gilbert, 2014, the ``vaderSentiment`` package) is a valence lexicon with rules
for negation ("not good"), intensifiers, contrast ("..., but ...") and emphasis. It knows general
language that movie reviews do not teach, and reads short text well where the bag of n-grams
has little to go on: the served probability of a short text adds its compound score, with the
weight fitted in the calibration (`model_build.calibration.fit_calibration`,
`model_build.preprocess.Calibration`). Offline (its lexicon ships in the wheel), torch-free;
pure Python, cheap on a sentence and costly on a review, so serving asks it only about short
texts. The text is never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model_build.once import MadeOnce
from model_build.preprocess import Calibration, lexicon_sized


def _load_analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


_analyzer = MadeOnce(_load_analyzer)


def analyzer() -> Any:
    """The process's ``SentimentIntensityAnalyzer``, loaded on the first call (its lexicon file)."""
    return _analyzer.get()


def compound_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound score of each text, in [-1, 1] (0: no sentiment found)."""
    scorer = analyzer()
    return np.fromiter((scorer.polarity_scores(text)["compound"] for text in texts), dtype=np.float64, count=len(texts))


def lexicon_scores(calibration: Calibration, texts: Sequence[str], ngram_counts: np.ndarray) -> np.ndarray | None:
    """What `Calibration.probabilities` takes as ``compound``: VADER's score of the texts it reads
    the lexicon for (the short ones), 0 for the others; None when it reads it for none."""
    short = np.flatnonzero(calibration.reads_lexicon(ngram_counts))
    return _scores_of(texts, short) if len(short) else None


def short_text_scores(texts: Sequence[str], ngram_counts: np.ndarray, max_ngrams: int) -> np.ndarray:
    """VADER's score of the texts of 1 to ``max_ngrams`` n-gram ids, 0 for the others: what the
    calibration's lexicon weight is fitted on."""
    return _scores_of(texts, np.flatnonzero(lexicon_sized(ngram_counts, max_ngrams)))


def _scores_of(texts: Sequence[str], rows: np.ndarray) -> np.ndarray:
    compound = np.zeros(len(texts))
    compound[rows] = compound_scores([texts[row] for row in rows.tolist()])
    return compound


def lexicon_valences() -> dict[str, float]:
    """VADER's lexicon: word (or emoticon) -> mean valence from -4 to 4."""
    return dict(analyzer().lexicon)
