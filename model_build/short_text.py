"""Training examples that teach the model short text, besides the whole reviews.

* **Crops**: sentences and word windows of each training review, with the review's label
  softened (a piece of a positive review is usually, not always, positive) and a smaller weight,
  so that the model sees inputs of the length users send and learns how little a short piece
  may say.
* **Lexicon**: general-language knowledge IMDB alone does not teach ("delicious", "rude",
  "not bad"), from the VADER valence lexicon (Hutto & Gilbert, 2014) as a teacher: each of its
  words alone, and negated ("not <word>", with VADER's own negation factor), with a soft label
  from its valence. Only for the default negative/positive labels.

Torch-free; the same seed gives the same examples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_build.crops import split_sentences, word_windows
from model_build.lexicon import lexicon_valences
from model_build.preprocess import DEFAULT_LABELS

# VADER: a negated word's valence is multiplied by this; a sum s is normalized to
# s / sqrt(s * s + 15) in [-1, 1].
VADER_NEGATION_FACTOR = -0.74
VADER_NORMALIZATION = 15.0
MIN_SENTENCE_WORDS = 3


@dataclass
class Examples:
    texts: list[str]
    targets: np.ndarray  # [n, classes] float32, each row sums to 1
    weights: np.ndarray  # [n] float32

    def __len__(self) -> int:
        return len(self.texts)


def crops(
    texts: Sequence[str],
    labels: np.ndarray,
    classes: int,
    *,
    sentences_per_text: int,
    windows_per_text: int,
    window_words: int,
    smoothing: float,
    weight: float,
    seed: int,
) -> Examples:
    """Up to ``sentences_per_text`` sentences (of at least three words) and ``windows_per_text``
    windows of ``window_words`` words of each text, chosen at random (seeded), each with its
    text's label smoothed by ``smoothing`` towards the uniform distribution."""
    pieces, owners = crop_pieces(
        texts, sentences_per_text=sentences_per_text, windows_per_text=windows_per_text,
        window_words=window_words, seed=seed,
    )  # fmt: skip
    targets = np.full((len(pieces), classes), smoothing / classes, dtype=np.float32)
    targets[np.arange(len(pieces)), labels[owners]] += 1.0 - smoothing
    return Examples(pieces, targets, np.full(len(pieces), weight, dtype=np.float32))


def crop_pieces(
    texts: Sequence[str], *, sentences_per_text: int, windows_per_text: int, window_words: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """The crops of `crops` and the index of the text each comes from."""
    rng = np.random.default_rng(seed)
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        sentences = split_sentences(text, min_words=MIN_SENTENCE_WORDS)
        windows = word_windows(text, window_words, stride=max(1, window_words // 2))
        for candidates, count in ((sentences, sentences_per_text), (windows, windows_per_text)):
            if len(candidates) > 1:  # a text that is one piece is already trained on whole
                chosen = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
                pieces += [candidates[k] for k in sorted(chosen.tolist())]
                owners += [index] * len(chosen)
    return pieces, np.asarray(owners, dtype=np.int64)


def lexicon_examples(labels: tuple[str, ...], *, weight: float) -> Examples:
    """VADER's words, alone and negated, with soft labels from their valence (none for labels
    other than the default negative/positive)."""
    if tuple(labels) != DEFAULT_LABELS or weight <= 0:
        return Examples([], np.zeros((0, len(labels)), dtype=np.float32), np.zeros(0, dtype=np.float32))
    texts: list[str] = []
    positive: list[float] = []
    for word, valence in sorted(lexicon_valences().items()):
        texts.append(word)
        positive.append(_positive_share(valence))
        if word.isalpha():  # emoticons and symbols are not negated
            texts.append(f"not {word}")
            positive.append(_positive_share(valence * VADER_NEGATION_FACTOR))
    share = np.asarray(positive, dtype=np.float32)
    targets = np.stack([1 - share, share], axis=1)
    return Examples(texts, targets, np.full(len(texts), weight, dtype=np.float32))


def _positive_share(valence: float) -> float:
    """VADER's normalized score of one valence, from [-1, 1] to a share of positive in [0, 1]."""
    return 0.5 + 0.5 * valence / math.sqrt(valence * valence + VADER_NORMALIZATION)
