"""Short pieces of long reviews: the sentences and word windows that training and evaluation
use to stand for what users send (one-line opinions rather than whole reviews).

Torch-free and deterministic: the same review always gives the same pieces.
"""

from __future__ import annotations

import re

_BREAK_TAG = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
# A sentence ends at ., ! or ? (any run of them, with closing quotes or brackets) followed by
# white space, or at a line break.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+|\s*\n\s*")
_WORD = re.compile(r"\S+")


def split_sentences(text: str, *, min_words: int = 1) -> list[str]:
    """The sentences of ``text`` in order, each stripped, those of fewer than ``min_words``
    words left out. ``<br />`` tags count as line breaks."""
    text = _BREAK_TAG.sub("\n", text)
    pieces = (piece.strip() for piece in _SENTENCE_END.split(text))
    return [piece for piece in pieces if piece and len(piece.split()) >= min_words]


def word_windows(text: str, size: int, stride: int) -> list[str]:
    """Windows of ``size`` consecutive words of ``text`` (split at white space), every
    ``stride`` words; a text of at most ``size`` words is its own one window."""
    if size < 1 or stride < 1:
        raise ValueError("size and stride must be positive")
    words = _WORD.findall(_BREAK_TAG.sub(" ", text))
    if len(words) <= size:
        return [" ".join(words)] if words else []
    return [" ".join(words[start : start + size]) for start in range(0, len(words) - size + 1, stride)]
