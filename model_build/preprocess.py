"""Text -> model input, written once for training and serving.

This module imports no torch: the Lambda functions use it exactly as training does. Everything
it needs travels in the bundle as ``preprocess.json`` (`PreprocessConfig.to_json`), and
`Preprocessor.from_json` rebuilds the same transformation from that file alone.

The transformation:

1. normalize: ``<br />`` tags become spaces, HTML entities are unescaped, Unicode is NFKC
   normalized and case-folded, and control / format characters (NUL included) become spaces;
2. tokenize: words (letters and digits, with inner apostrophes such as ``don't``) and every
   other visible character as a token of its own (``!``, ``?``, emoji, ...);
3. truncate: at most ``max_tokens`` tokens, keeping the head and the tail of a long text
   (reviews tend to state their verdict at the end);
4. hash: each token to a stable 64-bit value (a polynomial over its code points, modulo 2**64),
   then every n-gram of the configured orders to a bucket in ``[1, num_buckets)``; id 0 is
   padding;
5. optionally keep each distinct bucket once (``unique_ngrams``: a binary bag of n-grams).

Hashing needs no vocabulary, so ``preprocess.json`` stays a few hundred bytes and any text, in
any script, maps to valid ids. It is deterministic across processes and machines (no use of
Python's salted ``hash``).

Steps 2-5 run as array operations over a whole batch of texts at once (the texts are joined
into one array of code points): no Python code runs per token, which is what makes serving
fast. The tokenizer is exactly the regular expression ``TOKEN_PATTERN``; a test checks the two
against each other.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

# 2: tokens hashed by a polynomial over code points (1 hashed them with CRC-32 of UTF-8)
FORMAT_VERSION = 2
PADDING_ID = 0
DEFAULT_LABELS = ("negative", "positive")

_BREAK_TAG = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
# What the tokenizer matches, as a regular expression (the specification; `_token_spans` does
# the same with array operations): a word is a run of letters/digits that may hold inner
# apostrophes ("don't", "l'homme"); any other visible character is a token of its own.
TOKEN_PATTERN = r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_"
# Control (Cc), format (Cf), surrogate (Cs), private use (Co) and unassigned (Cn) characters.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

# Odd 64-bit constants (splitmix64 and golden-ratio multipliers).
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# Token hash: sum of code_point[k] * _TOKEN_BASE**k modulo 2**64 (odd base, so invertible).
_TOKEN_BASE = 0xD6E8FEB86659FD93
_POSITION_MULTIPLIERS = tuple(
    np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)
)
MAX_NGRAM_ORDER = len(_POSITION_MULTIPLIERS)
# `Preprocessor.encode_many` works on this many characters at a time at most: its arrays take
# about 100 bytes a character at their peak, so about 100 MiB.
CHARACTERS_AT_ONCE = 1 << 20


class PreprocessConfigError(ValueError):
    """``preprocess.json`` is missing fields, has wrong values or an unknown format."""


@dataclass(frozen=True)
class PreprocessConfig:
    """Everything that turns text into model input; saved as ``preprocess.json``."""

    num_buckets: int = 1 << 20
    ngram_orders: tuple[int, ...] = (1, 2, 3)
    max_tokens: int = 4096
    unique_ngrams: bool = False  # each distinct n-gram once (binary bag), order lost
    labels: tuple[str, ...] = DEFAULT_LABELS
    input_name: str = "input_ids"
    output_name: str = "probabilities"
    format: int = field(default=FORMAT_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ngram_orders", tuple(int(n) for n in self.ngram_orders))
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        if self.format != FORMAT_VERSION:
            raise PreprocessConfigError(
                f"preprocess format {self.format!r} is not supported (expected {FORMAT_VERSION})"
            )
        if not isinstance(self.num_buckets, int) or not 2 <= self.num_buckets <= 1 << 30:
            raise PreprocessConfigError("num_buckets must be an integer from 2 to 2**30")
        if (
            not self.ngram_orders
            or any(not 1 <= n <= MAX_NGRAM_ORDER for n in self.ngram_orders)
            or len(set(self.ngram_orders)) != len(self.ngram_orders)
        ):
            raise PreprocessConfigError(f"ngram_orders must be distinct integers from 1 to {MAX_NGRAM_ORDER}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise PreprocessConfigError("max_tokens must be a positive integer")
        if len(self.labels) < 2:
            raise PreprocessConfigError("labels must name at least two classes")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> PreprocessConfig:
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise PreprocessConfigError(f"preprocess.json is not valid JSON: {error}") from None
        if not isinstance(raw, dict):
            raise PreprocessConfigError("preprocess.json must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise PreprocessConfigError(f"preprocess.json has unknown fields: {unknown}")
        try:
            return cls(**raw)
        except TypeError as error:
            raise PreprocessConfigError(f"preprocess.json is invalid: {error}") from None


class _PerCodePoint(dict):
    """``function(code_point)``, filled as code points are met; at most 65,536 are kept, so no
    input can grow it without bound. Usable as a `str.translate` table."""

    def __init__(self, function: Callable[[int], int]) -> None:
        super().__init__()
        self._function = function

    def __missing__(self, point: int) -> int:
        value = self._function(point)
        if len(self) < 1 << 16:
            self[point] = value
        return value


# invisible characters to a space, every other to itself
_INVISIBLE_AS_SPACE = _PerCodePoint(
    lambda point: 0x20 if unicodedata.category(chr(point)) in _INVISIBLE_CATEGORIES else point
)


def normalize(text: str) -> str:
    """HTML breaks and entities resolved, NFKC, case-folded, invisible characters as spaces."""
    text = html.unescape(_BREAK_TAG.sub(" ", text))
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isprintable():
        text = text.translate(_INVISIBLE_AS_SPACE)
    return text


def tokenize(text: str) -> list[str]:
    """Normalized tokens of ``text`` (words, and single punctuation/symbol characters)."""
    text = normalize(text)
    starts, ends = _token_spans(_character_classes(_code_points(text)))
    return [text[start:end] for start, end in zip(starts.tolist(), ends.tolist())]


# Character classes, as TOKEN_PATTERN sees them: \s, [^\W_], the apostrophe, anything else.
_SPACE, _ALNUM, _APOSTROPHE, _SYMBOL = range(4)


def _character_class(character: str) -> int:
    # the definitions of Python's re module: \s is str.isspace, \w is str.isalnum or "_"
    if character.isspace():
        return _SPACE
    if character.isalnum():
        return _ALNUM
    return _APOSTROPHE if character == "'" else _SYMBOL


_ASCII_CLASSES = np.array([_character_class(chr(point)) for point in range(128)], dtype=np.uint8)


_WIDE_CLASSES = _PerCodePoint(lambda point: _character_class(chr(point)))  # above ASCII


def _code_points(text: str) -> np.ndarray:
    """``text`` as an array of code points (``uint8`` when it is ASCII, else ``uint32``)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    # surrogatepass: a lone surrogate (valid in a Python str, e.g. from JSON "\ud800") is kept as
    # one code point instead of raising
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _character_classes(points: np.ndarray) -> np.ndarray:
    if points.dtype == np.uint8:
        return _ASCII_CLASSES[points]
    classes = _ASCII_CLASSES[np.minimum(points, 127)]
    wide = np.flatnonzero(points > 127)
    if len(wide):
        distinct, where = np.unique(points[wide], return_inverse=True)
        distinct_classes = np.fromiter(
            map(_WIDE_CLASSES.__getitem__, distinct.tolist()), dtype=np.uint8, count=len(distinct)
        )
        classes[wide] = distinct_classes[where]
    return classes


def _token_spans(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every token, in order: the matches of TOKEN_PATTERN."""
    word = classes == _ALNUM
    if len(classes) > 2:
        # an apostrophe between two letters/digits is inside a word
        apostrophes = np.flatnonzero(classes[1:-1] == _APOSTROPHE) + 1
        word[apostrophes[word[apostrophes - 1] & word[apostrophes + 1]]] = True
    single = (classes >= _APOSTROPHE) & ~word  # every other visible character stands alone
    first, last = single.copy(), single
    if len(word):
        first[0] |= word[0]
        first[1:] |= word[1:] & ~word[:-1]
        last[-1] |= word[-1]
        last[:-1] |= word[:-1] & ~word[1:]
    return np.flatnonzero(first), np.flatnonzero(last) + 1


class _Powers:
    """``base**k`` and ``base**-k`` modulo 2**64, computed once for the longest input so far."""

    def __init__(self, base: int) -> None:
        self._base = np.uint64(base)
        self._inverse = np.uint64(pow(base, -1, 1 << 64))
        self._arrays = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))

    def up_to(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The powers for ``k < length`` at least (one attribute is replaced, so that threads
        that grow them at once each get arrays long enough)."""
        arrays = self._arrays
        if length > len(arrays[0]):
            length = max(length, 2 * len(arrays[0]), 1 << 16)
            arrays = tuple(
                np.concatenate(([np.uint64(1)], np.cumprod(np.full(length - 1, factor))))
                for factor in (self._base, self._inverse)
            )
            self._arrays = arrays
        return arrays


_TOKEN_POWERS = _Powers(_TOKEN_BASE)


def _token_hashes(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per token: sum of ``points[start + k] * _TOKEN_BASE**k`` modulo 2**64, for all tokens at
    once from one prefix sum (a token's slice of it, shifted back by ``_TOKEN_BASE**-start``)."""
    up, down = _TOKEN_POWERS.up_to(len(points) + 1)
    prefix = np.zeros(len(points) + 1, dtype=np.uint64)
    np.cumsum(points * up[: len(points)], out=prefix[1:])
    return (prefix[ends] - prefix[starts]) * down[starts]


def _finalize(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads the bits so that the modulo below is uniform."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX_2
    return values ^ (values >> np.uint64(31))


class Preprocessor:
    """Turns texts into padded ``int64`` id matrices as the model expects them."""

    def __init__(self, config: PreprocessConfig) -> None:
        self.config = config
        self._bucket_span = np.uint64(config.num_buckets - 1)
        self._order_salts = {n: np.uint64(n * 0x100000001B3) for n in config.ngram_orders}

    @classmethod
    def from_json(cls, text: str | bytes) -> Preprocessor:
        return cls(PreprocessConfig.from_json(text))

    def encode(self, text: str) -> np.ndarray:
        """Bucket ids (``int64``, every value in ``[1, num_buckets)``) of one text's n-grams.

        An empty or token-free text gives an empty array; `encode_batch` pads it.
        """
        return self.encode_many([text])[0]

    def encode_many(self, texts: Iterable[str]) -> list[np.ndarray]:
        """`encode` of each text, computed for many at once: the texts are joined into one
        array of code points (a space between two texts), and tokenizing, hashing and the
        n-gram arithmetic each run once over it. Texts are taken in groups of at most
        `CHARACTERS_AT_ONCE` characters (or one longer text), which bounds the memory used."""
        normalized = [normalize(text) for text in texts]
        encoded: list[np.ndarray] = []
        start = 0
        while start < len(normalized):
            end, characters = start + 1, len(normalized[start])
            while end < len(normalized) and characters + len(normalized[end]) < CHARACTERS_AT_ONCE:
                characters += len(normalized[end]) + 1
                end += 1
            encoded += self._encode_normalized(normalized[start:end])
            start = end
        return encoded

    def _encode_normalized(self, normalized: list[str]) -> list[np.ndarray]:
        lengths = np.fromiter(map(len, normalized), dtype=np.int64, count=len(normalized))
        points = _code_points(" ".join(normalized))
        starts, ends = _token_spans(_character_classes(points))
        text_starts = np.cumsum(lengths + 1) - (lengths + 1)
        owner = np.searchsorted(text_starts, starts, side="right") - 1  # the text of each token
        keep = self._within_max_tokens(owner, len(normalized))
        if keep is not None:
            starts, ends, owner = starts[keep], ends[keep], owner[keep]
        hashes = _token_hashes(points, starts, ends)
        parts, owners = [], []
        with np.errstate(over="ignore"):
            for order in self.config.ngram_orders:
                windows = len(hashes) - order + 1
                if windows <= 0:
                    continue
                combined = self._order_salts[order] + hashes[:windows] * _POSITION_MULTIPLIERS[0]
                for position in range(1, order):
                    combined += hashes[position : windows + position] * _POSITION_MULTIPLIERS[position]
                texts_of = owner[:windows]
                if order > 1:  # keep the windows that lie inside one text
                    inside = texts_of == owner[order - 1 :]
                    combined, texts_of = combined[inside], texts_of[inside]
                parts.append(combined)
                owners.append(texts_of)
            if not parts:
                return [np.zeros(0, dtype=np.int64) for _ in normalized]
            texts_of = np.concatenate(owners)
            mixed = _finalize(np.concatenate(parts))
        ids = (mixed % self._bucket_span + np.uint64(1)).astype(np.int64)
        if self.config.unique_ngrams:
            # one sort by (text, id) both groups by text and deduplicates
            ids, texts_of = _sorted_unique_per_text(ids, texts_of)
        else:
            # per text: its order-1 n-grams, then its order-2 ones, ... (a stable sort keeps that)
            grouped = np.argsort(texts_of, kind="stable")
            ids, texts_of = ids[grouped], texts_of[grouped]
        return np.split(ids, np.searchsorted(texts_of, np.arange(1, len(normalized))))

    def _within_max_tokens(self, owner: np.ndarray, texts: int) -> np.ndarray | None:
        """Which tokens to keep so that no text has more than ``max_tokens``: the head and the
        tail of a long text (``None`` when every text fits)."""
        counts = np.bincount(owner, minlength=texts)
        max_tokens = self.config.max_tokens
        if len(counts) == 0 or counts.max() <= max_tokens:
            return None
        head = (max_tokens + 1) // 2
        tail = max_tokens - head
        rank = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
        return (rank < head) | (rank >= counts[owner] - tail)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """A ``[len(texts), longest]`` matrix padded with `PADDING_ID` (at least one column)."""
        return pad(self.encode_many(texts))


def _sorted_unique_per_text(ids: np.ndarray, texts_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique`` of each text's ids, for all texts in one sort (ids < 2**30 < num_buckets)."""
    keys = (texts_of << 30) | ids
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    return keys & ((1 << 30) - 1), keys >> 30


def pad(sequences: Sequence[np.ndarray], min_length: int = 1) -> np.ndarray:
    """Right-pads id arrays with `PADDING_ID` into one ``int64`` matrix."""
    length = max([min_length, *(len(s) for s in sequences)])
    matrix = np.full((len(sequences), length), PADDING_ID, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        matrix[row, : len(sequence)] = sequence
    return matrix
