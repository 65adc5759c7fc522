"""Text -> model input, written once for training and serving.

This module imports no torch: the Lambda functions use it exactly as training does. Everything
it needs travels in the bundle as ``preprocess.json`` (`PreprocessConfig.to_json`), and
`Preprocessor.from_json` rebuilds the same transformation from that file alone.

The transformation:

1. normalize: ``<br />`` tags become spaces, HTML entities are unescaped, Unicode is NFKC
   normalized and case-folded, typographic apostrophes become ``'``, and control / format
   characters (NUL included) become spaces;
2. tokenize: words (letters and digits, with inner apostrophes such as ``don't``) and every
   other visible character as a token of its own (``!``, ``?``, emoji, ...);
3. truncate: at most ``max_tokens`` tokens, keeping the head and the tail of a long text
   (reviews tend to state their verdict at the end);
4. hash: each token to a stable 64-bit value (a polynomial over its code points, modulo 2**64);
5. mark negation (``negation_scope`` > 0): the tokens that follow a negator (``not``,
   ``never``, ``don't``, ...) up to the next punctuation mark or contrast word (``but``), at most
   ``negation_scope`` of them, get a marked hash: ``not good`` holds the n-grams of ``not`` and
   of a negated ``good``, which the model learns apart from ``good``;
6. every n-gram of the configured orders to a 64-bit value, and that value to an id: with a
   `Vocabulary` (the n-grams kept at training) its row, or `UNKNOWN_ID` for any other n-gram;
   without one, a hash bucket in ``[1, num_buckets)``. Id 0 is padding;
7. optionally keep each distinct id once (``unique_ngrams``: a binary bag of n-grams).

Any text, in any script, maps to valid ids. The transformation is deterministic across
processes and machines (no use of Python's salted ``hash``). Alongside the ids, `encode_many`
counts each text's *evidence*: the n-grams holding a word that the model has a row for; a text
without any is one the model knows nothing about.

Steps 2-5 run as array operations over a whole batch of texts at once (the texts are joined
into one array of code points): no Python code runs per token, which is what makes serving
fast. The tokenizer is exactly the regular expression ``TOKEN_PATTERN``; a test checks the two
against each other.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

# 3: negation marking, typographic apostrophes, the vocabulary, logits out and calibration
# 2: tokens hashed by a polynomial over code points (1 hashed them with CRC-32 of UTF-8)
FORMAT_VERSION = 3
PADDING_ID = 0
UNKNOWN_ID = 1  # with a vocabulary: the one row every n-gram outside it shares
FIRST_KNOWN_ID = 2
DEFAULT_LABELS = ("negative", "positive")

# Negation (step 5): the tokens that open a scope, and those that close one (a punctuation mark
# or a contrast word). Apostrophe-less spellings are there because people type them.
_NEGATOR_WORDS = (
    "not no never nor cannot without nothing nobody none neither nowhere hardly barely scarcely "
    "don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't shouldn't "
    "haven't hasn't hadn't ain't mustn't needn't mightn't shan't dont doesnt didnt isnt arent "
    "wasnt werent wont wouldnt cant couldnt shouldnt havent hasnt hadnt aint"
)
_SCOPE_END_TOKENS = (
    '. , ; : ! ? ( ) [ ] " but however although though yet except whereas nevertheless nonetheless instead'
)
NEGATORS = frozenset(_NEGATOR_WORDS.split())
SCOPE_ENDS = frozenset(_SCOPE_END_TOKENS.split())
_NEGATION_MARK = np.uint64(0x6E65676174656421)  # XORed into a negated token's hash
_APOSTROPHES = re.compile("[\u2019\u2018\u02bc\u2032`]")  # all written "'" (a regex: str.translate is slow)

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


# `Vocabulary.ids` finds fingerprints in hash tables of at least this many slots an entry: with 4
# (36 MiB for a vocabulary of a million n-grams) 7% of a review's lookups go on past the first
# table, against 18% with 2 (21 MiB), and a 64-review batch's lookups take about a quarter less time.
SLOTS_PER_ENTRY = 4
# `Vocabulary.ids` builds its hash tables once this many fingerprints have been looked up (about
# ten reviews'); until then it binary-searches the sorted fingerprints
TABLES_FROM_LOOKUPS = 8_192
_TABLES_BUILDING = threading.Lock()  # one build at a time: threads sharing a model wait for it
# The slot of a fingerprint in the k-th table: the top bits of fingerprint * (k * _SLOT_STEP + 1)
# modulo 2**32 (odd multipliers: a fingerprint is already a hash, but each table must spread
# differently the fingerprints that shared a slot in the one before).
_SLOT_STEP = 0x9E3779B0
# A table entry (uint64): fingerprint << 32 | (another fingerprint of this slot went on to the
# next table) << 31 | id; an id of 0 is an empty slot (ids start at FIRST_KNOWN_ID).
_ENTRY_ID = np.uint64((1 << 31) - 1)
_ENTRY_MORE = np.uint64(1 << 31)


@dataclass(frozen=True)
class _SlotTable:
    entries: np.ndarray  # uint64, a power of two of them
    multiplier: np.uint32
    shift: np.uint32

    def slots(self, fingerprints: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((fingerprints * self.multiplier) >> self.shift).astype(np.intp)


class Vocabulary:
    """The n-grams a model has rows for: a sorted array of 32-bit fingerprints (the high half of
    each n-gram's 64-bit value); the n-gram of fingerprint ``fingerprints[k]`` has the id
    ``FIRST_KNOWN_ID + k``. In ``preprocess.json`` it is base64 of the zlib-compressed deltas."""

    def __init__(self, fingerprints: np.ndarray) -> None:
        self.fingerprints = np.unique(np.asarray(fingerprints, dtype=np.uint32))
        self._tables: list[_SlotTable] | None = None  # `_slot_tables`, built on first need
        self._looked_up = 0  # fingerprints looked up before the tables were built

    def __len__(self) -> int:
        return len(self.fingerprints)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and np.array_equal(self.fingerprints, other.fingerprints)

    def __hash__(self) -> int:
        return hash(self.fingerprints.tobytes())

    def ids(self, fingerprints: np.ndarray) -> np.ndarray:
        """The id of each fingerprint: its row, or `UNKNOWN_ID`.

        A search in the sorted array misses the cache at every step; in `_slot_tables` a lookup is
        one gather of a table entry, and only where the slot's fingerprint is another one that was
        not alone in that slot (about one lookup in fourteen) one more in the next, smaller table.
        The tables take 36 MiB and 25-60 ms to build, so they are built once `TABLES_FROM_LOOKUPS`
        fingerprints have been looked up (in one call or over several); until then lookups search
        the sorted array (about 0.2 ms for a review's), and a cold start's first request does not
        wait for the tables."""
        wanted = np.asarray(fingerprints, dtype=np.uint32)
        tables = self._tables
        if tables is None:
            self._looked_up += len(wanted)
            if self._looked_up < TABLES_FROM_LOOKUPS:
                return self._searched_ids(wanted)
            tables = self._slot_tables()
        ids = pending = None  # at the first table: all of them
        for table in tables:
            entries = table.entries[table.slots(wanted)]
            found = (entries & _ENTRY_ID).astype(np.int64)
            hit = ((entries >> np.uint64(32)).astype(np.uint32) == wanted) & (found != 0)
            going = ~hit & ((entries & _ENTRY_MORE) != 0)
            if pending is None:
                ids = np.where(hit, found, UNKNOWN_ID)
                pending = np.flatnonzero(going)
            else:
                ids[pending[hit]] = found[hit]
                pending = pending[going]
            if not len(pending):
                break
            wanted = wanted[going]
        return np.full(len(wanted), UNKNOWN_ID, dtype=np.int64) if ids is None else ids

    def _searched_ids(self, wanted: np.ndarray) -> np.ndarray:
        """`ids` by a binary search of the sorted fingerprints (the same ids as the tables)."""
        if not len(self.fingerprints):
            return np.full(len(wanted), UNKNOWN_ID, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.fingerprints, wanted), len(self.fingerprints) - 1)
        return np.where(self.fingerprints[rows] == wanted, rows + FIRST_KNOWN_ID, UNKNOWN_ID).astype(np.int64)

    def _slot_tables(self) -> list[_SlotTable]:
        """Hash tables of (fingerprint, id), built once (by one thread; the others wait for it):
        every fingerprint takes a slot of the first table (`SLOTS_PER_ENTRY` slots an entry);
        those that find it taken by another go on to the next table, sized for them, and so on
        (about a tenth go on from the first, more from the smaller ones after it)."""
        with _TABLES_BUILDING:
            if self._tables is None:
                self._tables = self._built_tables()
        return self._tables

    def _built_tables(self) -> list[_SlotTable]:
        tables = []
        fingerprints = self.fingerprints
        ids = np.arange(FIRST_KNOWN_ID, FIRST_KNOWN_ID + len(fingerprints), dtype=np.uint64)
        while len(fingerprints):  # each table places one fingerprint at least
            multiplier = np.uint32((len(tables) * _SLOT_STEP + 1) % (1 << 32))
            bits = max(1, (SLOTS_PER_ENTRY * len(fingerprints) - 1).bit_length())
            table = _SlotTable(np.zeros(1 << bits, dtype=np.uint64), multiplier, np.uint32(32 - bits))
            slots = table.slots(fingerprints)
            entries = (fingerprints.astype(np.uint64) << np.uint64(32)) | ids
            if not tables:  # slots of the fingerprints' top bits, in ascending order: the first of each takes it
                placed = np.ones(len(slots), dtype=bool)
                placed[1:] = slots[1:] != slots[:-1]
                shared = np.zeros(len(slots), dtype=bool)
                shared[:-1] = ~placed[1:]  # the next fingerprint has the same slot
                table.entries[slots[placed]] = entries[placed] | np.where(shared[placed], _ENTRY_MORE, 0)
            else:
                table.entries[slots] = entries  # one of the fingerprints of a slot takes it
                placed = table.entries[slots] == entries
                table.entries[slots[~placed]] |= _ENTRY_MORE
            fingerprints, ids = fingerprints[~placed], ids[~placed]
            tables.append(table)
        return tables

    def encode(self) -> str:
        deltas = np.diff(self.fingerprints, prepend=np.uint32(0)).astype("<u4")
        return base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Vocabulary:
        try:
            deltas = np.frombuffer(zlib.decompress(base64.b64decode(text, validate=True)), dtype="<u4")
        except (binascii.Error, zlib.error, ValueError, TypeError) as error:
            raise PreprocessConfigError(f"the vocabulary of preprocess.json cannot be read: {error}") from None
        fingerprints = np.cumsum(deltas, dtype=np.uint32)
        if len(fingerprints) > 1 and not (fingerprints[1:] > fingerprints[:-1]).all():
            raise PreprocessConfigError("the vocabulary of preprocess.json is not strictly increasing")
        vocabulary = cls(np.zeros(0, dtype=np.uint32))
        vocabulary.fingerprints = fingerprints  # sorted and distinct: checked above
        return vocabulary


def fingerprints_of(values: np.ndarray) -> np.ndarray:
    """The 32-bit fingerprint of 64-bit n-gram values (their high half)."""
    return (values >> np.uint64(32)).astype(np.uint32)


def lexicon_sized(ngram_counts: np.ndarray, max_ngrams: int) -> np.ndarray:
    """Which texts are short enough for the lexicon's score: 1 to ``max_ngrams`` n-gram ids."""
    counts = np.asarray(ngram_counts)
    return (counts > 0) & (counts <= max_ngrams)


@dataclass(frozen=True)
class Calibration:
    """Serving's probabilities are ``softmax(logits * exp(log_scale) * n ** evidence_power)``,
    ``n`` the number of n-gram ids of the text: a temperature that depends on how much a text
    says, fitted on held-out reviews and pieces of reviews (`model_build.calibration`).

    A text of at most ``lexicon_max_ngrams`` ids (a short one, where the n-grams have little to go
    on) also gets ``lexicon_weight`` times VADER's compound score (`model_build.lexicon`) added to
    the logit of the second label against the first (two labels only: negative, positive), the
    weight fitted with the rest; a weight of 0 (the default) asks nothing of VADER."""

    log_scale: float = 0.0
    evidence_power: float = 0.0
    lexicon_weight: float = 0.0
    lexicon_max_ngrams: int = 0

    def __post_init__(self) -> None:
        for name in ("log_scale", "evidence_power", "lexicon_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise PreprocessConfigError(f"calibration {name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if (
            isinstance(self.lexicon_max_ngrams, bool)
            or not isinstance(self.lexicon_max_ngrams, int)
            or self.lexicon_max_ngrams < 0
        ):
            raise PreprocessConfigError("calibration lexicon_max_ngrams must be an integer of at least 0")

    def scales(self, ngram_counts: np.ndarray) -> np.ndarray:
        """The factor of each text's logits (float64), from its n-gram count."""
        counts = np.maximum(np.asarray(ngram_counts, dtype=np.float64), 1.0)
        return np.exp(self.log_scale + self.evidence_power * np.log(counts))

    def reads_lexicon(self, ngram_counts: np.ndarray) -> np.ndarray:
        """Which texts (by n-gram count) the lexicon's score is added to: the short ones, not
        those without any n-gram (an empty line of an upload asks nothing of VADER)."""
        counts = np.asarray(ngram_counts)
        if self.lexicon_weight == 0.0:
            return np.zeros(len(counts), dtype=bool)
        return lexicon_sized(counts, self.lexicon_max_ngrams)

    def lexicon_shifts(self, compound: np.ndarray) -> np.ndarray:
        """``[texts, 2]``: what the lexicon adds to each label's scaled logit (half the weighted
        score to the second label, half taken from the first)."""
        half = 0.5 * self.lexicon_weight * np.asarray(compound, dtype=np.float64)
        return np.stack([-half, half], axis=1)

    def probabilities(
        self, logits: np.ndarray, ngram_counts: np.ndarray, compound: np.ndarray | None = None
    ) -> np.ndarray:
        """Calibrated probabilities; ``compound`` is VADER's score of each text, read where
        `reads_lexicon` is true (None: of no text)."""
        scaled = logits.astype(np.float64) * self.scales(ngram_counts)[:, None]
        if compound is not None and self.lexicon_weight != 0.0:
            scaled += self.lexicon_shifts(np.where(self.reads_lexicon(ngram_counts), compound, 0.0))
        scaled -= scaled.max(axis=1, keepdims=True)
        exponentials = np.exp(scaled)
        return exponentials / exponentials.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class PreprocessConfig:
    """Everything that turns text into model input and logits into probabilities; saved as
    ``preprocess.json``."""

    num_buckets: int = 1 << 20  # hash buckets when there is no vocabulary
    ngram_orders: tuple[int, ...] = (1, 2, 3)
    max_tokens: int = 4096
    unique_ngrams: bool = False  # each distinct n-gram once (binary bag), order lost
    negation_scope: int = 0  # tokens marked after a negator; 0: no marking
    vocabulary: Vocabulary | None = None
    labels: tuple[str, ...] = DEFAULT_LABELS
    calibration: Calibration = field(default_factory=Calibration)
    input_name: str = "input_ids"
    output_name: str = "logits"
    ngram_output_name: str | None = None  # the graph's per-n-gram logits, for explanations
    format: int = field(default=FORMAT_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ngram_orders", tuple(int(n) for n in self.ngram_orders))
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        if isinstance(self.vocabulary, str):
            object.__setattr__(self, "vocabulary", Vocabulary.decode(self.vocabulary))
        if isinstance(self.calibration, dict):
            try:
                object.__setattr__(self, "calibration", Calibration(**self.calibration))
            except TypeError as error:
                raise PreprocessConfigError(f"calibration is invalid: {error}") from None
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
        if isinstance(self.negation_scope, bool) or not isinstance(self.negation_scope, int) or self.negation_scope < 0:
            raise PreprocessConfigError("negation_scope must be an integer of at least 0")
        if self.vocabulary is not None and not isinstance(self.vocabulary, Vocabulary):
            raise PreprocessConfigError("vocabulary must be null or an encoded vocabulary")
        if not isinstance(self.calibration, Calibration):
            raise PreprocessConfigError("calibration must be an object")
        if len(self.labels) < 2:
            raise PreprocessConfigError("labels must name at least two classes")
        if self.calibration.lexicon_weight != 0.0 and len(self.labels) != 2:
            raise PreprocessConfigError("a calibration with a lexicon weight needs exactly two labels")

    @property
    def table_rows(self) -> int:
        """How many ids there are (padding included): the rows of the model's table."""
        return self.num_buckets if self.vocabulary is None else FIRST_KNOWN_ID + len(self.vocabulary)

    def to_json(self) -> str:
        raw = asdict(self)
        raw["vocabulary"] = None if self.vocabulary is None else self.vocabulary.encode()
        raw["calibration"] = asdict(self.calibration)
        return json.dumps(raw, indent=2, sort_keys=True) + "\n"

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
        if raw.get("vocabulary") is not None and not isinstance(raw["vocabulary"], str):
            raise PreprocessConfigError("vocabulary must be null or an encoded vocabulary")
        if not isinstance(raw.get("calibration", {}), dict):
            raise PreprocessConfigError("calibration must be an object")
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


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))  # what str.isprintable accepts of ASCII

# invisible characters to a space, every other to itself
_INVISIBLE_AS_SPACE = _PerCodePoint(
    lambda point: 0x20 if unicodedata.category(chr(point)) in _INVISIBLE_CATEGORIES else point
)


def normalize(text: str) -> str:
    """HTML breaks and entities resolved, NFKC, case-folded, one apostrophe, invisible characters
    as spaces."""
    if "<" in text:
        text = _BREAK_TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if text.isascii():  # the same, faster: NFKC leaves ASCII as it is, and casefold is lower there
        text = text.lower()
        if "`" in text:
            text = text.replace("`", "'")
        # what is left once the printable characters are deleted: a quarter of str.isprintable's time
        printable = not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    else:
        text = _APOSTROPHES.sub("'", unicodedata.normalize("NFKC", text).casefold())
        printable = text.isprintable()
    if not printable:
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
    if points.dtype == np.uint8:  # np.take: twice as fast as indexing with an array
        return np.take(_ASCII_CLASSES, points)
    classes = np.take(_ASCII_CLASSES, np.minimum(points, 127))
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


def _token_hash(token: str) -> int:
    """`_token_hashes` of one token, in plain Python (for the fixed word lists)."""
    return sum(ord(c) * pow(_TOKEN_BASE, k, 1 << 64) for k, c in enumerate(token)) % (1 << 64)


class _TokenSet:
    """A fixed set of tokens that arrays of token hashes are tested against: a 4,096-bit filter
    (of the hashes' top bits once mixed) lets few tokens through, and a binary search over the
    set's sorted hashes settles those (``np.isin`` sorts the whole array each time)."""

    _FILTER_SHIFT = np.uint64(64 - 12)

    def __init__(self, tokens: Iterable[str]) -> None:
        self._hashes = np.array(sorted(map(_token_hash, tokens)), dtype=np.uint64)
        self._filter = np.zeros(1 << 12, dtype=bool)
        self._filter[self._filter_slots(self._hashes)] = True

    def _filter_slots(self, hashes: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((hashes * _MIX_1) >> self._FILTER_SHIFT).astype(np.intp)

    def holds(self, hashes: np.ndarray) -> np.ndarray:
        """Whether each hash is the hash of one of the tokens."""
        held = np.zeros(len(hashes), dtype=bool)
        candidates = np.flatnonzero(self._filter[self._filter_slots(hashes)])
        if len(candidates):
            values = hashes[candidates]
            at = np.minimum(np.searchsorted(self._hashes, values), len(self._hashes) - 1)
            held[candidates] = self._hashes[at] == values
        return held


_NEGATOR_SET = _TokenSet(NEGATORS)
_SCOPE_END_SET = _TokenSet(SCOPE_ENDS)


class Encoding(NamedTuple):
    """What `Preprocessor.encode_with_evidence` finds in each text."""

    ids: list[np.ndarray]  # `Preprocessor.encode` of each text
    evidence: np.ndarray  # int64: its n-grams that hold a word and have a row of their own
    worded: np.ndarray  # int64: its n-grams that hold a word, known or not


@dataclass
class _NGrams:
    """The n-grams of some normalized texts, in order: order-1 of every text, then order-2, ..."""

    values: np.ndarray  # uint64, the mixed value of each n-gram
    texts_of: np.ndarray  # the text each belongs to
    has_word: np.ndarray  # bool: it holds a word (not only punctuation and symbols)
    # with keep_tokens (`Preprocessor.ngram_texts` only): each n-gram's first token (its index among
    # the kept tokens) and order, and the start, end and negation of each kept token
    tokens: _NGramTokens | None = None


class _NGramTokens(NamedTuple):
    first_token: np.ndarray
    orders: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    negated: np.ndarray


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
        """Ids (``int64``, every value in ``[1, table_rows)``) of one text's n-grams.

        An empty or token-free text gives an empty array; `encode_batch` pads it.
        """
        return self.encode_many([text])[0]

    def encode_many(self, texts: Iterable[str]) -> list[np.ndarray]:
        """`encode` of each text, computed for many at once."""
        return self.encode_with_evidence(texts)[0]

    def encode_with_evidence(self, texts: Iterable[str]) -> Encoding:
        """`encode` of each text, its evidence (``int64``: its n-grams that hold a word and have a
        row of their own; without a vocabulary, every n-gram that holds a word) and its n-grams
        that hold a word, known or not.

        The texts are joined into one array of code points (a space between two texts), and
        tokenizing, hashing and the n-gram arithmetic each run once over it. Texts are taken in
        groups of at most `CHARACTERS_AT_ONCE` characters (or one longer text), which bounds the
        memory used."""
        normalized = [normalize(text) for text in texts]
        encoded: list[np.ndarray] = []
        evidence: list[np.ndarray] = []
        worded: list[np.ndarray] = []
        for group in _groups(normalized):
            ids, group_evidence, group_worded = self._encode_normalized(group)
            encoded += ids
            evidence.append(group_evidence)
            worded.append(group_worded)
        if not evidence:
            return Encoding(encoded, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        return Encoding(encoded, np.concatenate(evidence), np.concatenate(worded))

    def fingerprints_many(self, texts: Iterable[str]) -> list[np.ndarray]:
        """The distinct n-gram fingerprints of each text (sorted ``uint32``), vocabulary or not:
        what a `Vocabulary` is chosen from."""
        result: list[np.ndarray] = []
        for group in _groups([normalize(text) for text in texts]):
            ngrams = self._ngrams(group)
            keys = (ngrams.texts_of.astype(np.uint64) << np.uint64(32)) | fingerprints_of(ngrams.values).astype(
                np.uint64
            )
            keys = np.unique(keys)
            owners = (keys >> np.uint64(32)).astype(np.int64)
            values = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            result += _split_by_owner(values, owners, len(group))
        return result

    def ngram_texts(self, text: str) -> dict[int, str]:
        """Each id of ``text`` and the n-gram it stands for, its words separated by spaces and a
        negated word written ``NOT_word`` (the first n-gram of an id, if several share it)."""
        normalized = normalize(text)
        ngrams = self._ngrams([normalized], keep_tokens=True)
        kept = ngrams.tokens
        tokens = [
            ("NOT_" if negated else "") + normalized[start:end]
            for start, end, negated in zip(kept.starts.tolist(), kept.ends.tolist(), kept.negated.tolist())
        ]
        names: dict[int, str] = {}
        for identifier, first, order in zip(
            self._ids(ngrams.values).tolist(), kept.first_token.tolist(), kept.orders.tolist()
        ):
            names.setdefault(identifier, " ".join(tokens[first : first + order]))
        return names

    def _ids(self, values: np.ndarray) -> np.ndarray:
        vocabulary = self.config.vocabulary
        if vocabulary is not None:
            return vocabulary.ids(fingerprints_of(values))
        return (values % self._bucket_span + np.uint64(1)).astype(np.int64)

    def _encode_normalized(self, normalized: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        ngrams = self._ngrams(normalized)
        if not len(ngrams.values):
            nothing = np.zeros(len(normalized), dtype=np.int64)
            return [np.zeros(0, dtype=np.int64) for _ in normalized], nothing, nothing
        ids, texts_of = self._ids(ngrams.values), ngrams.texts_of
        worded = np.bincount(texts_of[ngrams.has_word], minlength=len(normalized)).astype(np.int64)
        if self.config.vocabulary is None:
            evidence = worded
        else:
            counted = ngrams.has_word & (ids >= FIRST_KNOWN_ID)
            evidence = np.bincount(texts_of[counted], minlength=len(normalized)).astype(np.int64)
        if self.config.unique_ngrams:
            # one sort by (text, id) both groups by text and deduplicates
            ids, texts_of = _sorted_unique_per_text(ids, texts_of, len(normalized), self.config.table_rows)
        else:
            # per text: its order-1 n-grams, then its order-2 ones, ... (a stable sort keeps that)
            grouped = np.argsort(texts_of, kind="stable")
            ids, texts_of = ids[grouped], texts_of[grouped]
        return _split_by_owner(ids, texts_of, len(normalized)), evidence, worded

    def _ngrams(self, normalized: list[str], keep_tokens: bool = False) -> _NGrams:
        lengths = np.fromiter(map(len, normalized), dtype=np.int64, count=len(normalized))
        points = _code_points(" ".join(normalized))
        classes = _character_classes(points)
        starts, ends = _token_spans(classes)
        text_starts = np.cumsum(lengths + 1) - (lengths + 1)
        owner = np.searchsorted(text_starts, starts, side="right") - 1  # the text of each token
        keep = self._within_max_tokens(owner, len(normalized))
        if keep is not None:
            starts, ends, owner = starts[keep], ends[keep], owner[keep]
        hashes = _token_hashes(points, starts, ends)
        words = (classes[starts] == _ALNUM).astype(np.int64)
        negated = np.zeros(len(hashes), dtype=bool)
        if self.config.negation_scope:
            negated = _negated(hashes, owner, self.config.negation_scope)
            hashes = np.where(negated, hashes ^ _NEGATION_MARK, hashes)
        word_count = np.concatenate(([0], np.cumsum(words)))
        values, owners, has_word, firsts, orders = [], [], [], [], []
        with np.errstate(over="ignore"):
            for order in self.config.ngram_orders:
                windows = len(hashes) - order + 1
                if windows <= 0:
                    continue
                combined = self._order_salts[order] + hashes[:windows] * _POSITION_MULTIPLIERS[0]
                for position in range(1, order):
                    combined += hashes[position : windows + position] * _POSITION_MULTIPLIERS[position]
                first = np.arange(windows)
                if order > 1:  # keep the windows that lie inside one text
                    first = first[owner[:windows] == owner[order - 1 :]]
                    combined = combined[first]
                values.append(combined)
                owners.append(owner[first])
                has_word.append(word_count[first + order] > word_count[first])
                if keep_tokens:
                    firsts.append(first)
                    orders.append(np.full(len(first), order, dtype=np.int64))
            if not values:
                empty = np.zeros(0, dtype=np.int64)
                tokens = _NGramTokens(empty, empty, starts, ends, negated) if keep_tokens else None
                return _NGrams(np.zeros(0, dtype=np.uint64), empty, np.zeros(0, dtype=bool), tokens)
            mixed = _finalize(np.concatenate(values))
        tokens = None
        if keep_tokens:
            tokens = _NGramTokens(np.concatenate(firsts), np.concatenate(orders), starts, ends, negated)
        return _NGrams(mixed, np.concatenate(owners), np.concatenate(has_word), tokens)

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


def _groups(normalized: list[str]) -> Iterable[list[str]]:
    """Consecutive texts of at most `CHARACTERS_AT_ONCE` characters in all (or one longer text)."""
    start = 0
    while start < len(normalized):
        end, characters = start + 1, len(normalized[start])
        while end < len(normalized) and characters + len(normalized[end]) < CHARACTERS_AT_ONCE:
            characters += len(normalized[end]) + 1
            end += 1
        yield normalized[start:end]
        start = end


def _negated(hashes: np.ndarray, owner: np.ndarray, scope: int) -> np.ndarray:
    """Which tokens lie in a negation scope: after a negator of their own text, with no scope end
    between, at most ``scope`` tokens on (negators themselves are not marked). Computed from the
    negators' positions (a few in a hundred tokens), not by a pass over every token for each rule."""
    negated = np.zeros(len(hashes), dtype=bool)
    negator = _NEGATOR_SET.holds(hashes)
    negators = np.flatnonzero(negator)
    if not len(negators) or scope <= 0:
        return negated
    # each negator and the `scope` tokens after it (one row each; past the end: the last token)
    reach = negators[:, None] + np.arange(scope + 1)
    within = reach < len(hashes)
    reach = np.minimum(reach, len(hashes) - 1)
    # a scope end at the negator or at any token up to this one closes the scope: only the few
    # tokens in reach are tested for scope ends, not every token
    closed = np.logical_or.accumulate(_SCOPE_END_SET.holds(hashes[reach.ravel()]).reshape(reach.shape), axis=1)
    after = reach[:, 1:]
    kept = within[:, 1:] & ~closed[:, 1:] & (owner[after] == owner[negators][:, None]) & ~negator[after]
    negated[after[kept]] = True
    return negated


def _split_by_owner(values: np.ndarray, owners: np.ndarray, texts: int) -> list[np.ndarray]:
    """``values`` (grouped by their sorted ``owners``) as one array per text, empty ones included
    (slices: ``np.split`` takes several times as long for the same views)."""
    bounds = np.searchsorted(owners, np.arange(texts + 1)).tolist()
    bounds[-1] = len(values)
    return [values[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _sorted_unique_per_text(
    ids: np.ndarray, texts_of: np.ndarray, texts: int, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique`` of each text's ids (each below ``rows``), for all ``texts`` in one sort of
    (text, id) keys: 32-bit keys where they fit (a batch of a few hundred texts), which sort
    twice as fast as 64-bit ones. The unknown n-grams' shared row (a quarter of a review's ids)
    is sorted along: taking it out first cost 8 µs a review, sorting it along costs under 1."""
    bits = max(1, (rows - 1).bit_length())
    kind = np.uint32 if texts << bits <= 1 << 32 else np.int64
    keys = (texts_of.astype(kind) << kind(bits)) | ids.astype(kind)
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    return (keys & kind((1 << bits) - 1)).astype(np.int64), (keys >> kind(bits)).astype(np.int64)


def pad(sequences: Sequence[np.ndarray], min_length: int = 1) -> np.ndarray:
    """Right-pads id arrays with `PADDING_ID` into one ``int64`` matrix."""
    length = max([min_length, *(len(s) for s in sequences)])
    matrix = np.full((len(sequences), length), PADDING_ID, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        matrix[row, : len(sequence)] = sequence
    return matrix
