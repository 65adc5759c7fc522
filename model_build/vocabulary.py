"""Choosing the n-grams the model keeps a row for (`model_build.preprocess.Vocabulary`).

An n-gram is kept when at least ``min_document_frequency`` training texts hold it, the most
frequent first, up to ``size``; every other n-gram shares one row. Rare n-grams are where hash
buckets collide and where a model learns noise, and the kept set is what tells serving that a
text holds nothing the model knows (``no_evidence``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from model_build.preprocess import Preprocessor, Vocabulary

TEXTS_AT_ONCE = 4096


def choose_vocabulary(
    preprocessor: Preprocessor,
    texts: Sequence[str],
    *,
    size: int,
    min_document_frequency: int,
    progress: bool = False,
) -> Vocabulary:
    """The at most ``size`` n-grams held by the most ``texts`` (each at least
    ``min_document_frequency``); a tie in frequency is broken by fingerprint, so the choice is
    deterministic."""
    parts: list[np.ndarray] = []
    for start in tqdm(range(0, len(texts), TEXTS_AT_ONCE), desc="vocabulary", disable=not progress, leave=False):
        parts += preprocessor.fingerprints_many(texts[start : start + TEXTS_AT_ONCE])
    fingerprints, frequencies = np.unique(np.concatenate(parts) if parts else np.zeros(0, np.uint32),
                                          return_counts=True)  # fmt: skip
    frequent = frequencies >= min_document_frequency
    fingerprints, frequencies = fingerprints[frequent], frequencies[frequent]
    if len(fingerprints) > size:
        # by frequency, highest first; np.argsort is stable, so equal frequencies keep fingerprint order
        fingerprints = fingerprints[np.argsort(-frequencies, kind="stable")[:size]]
    return Vocabulary(fingerprints)
