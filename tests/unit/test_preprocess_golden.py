"""Pins the ids `Preprocessor.encode` gives: serving must rebuild exactly what a published
bundle was trained with.

Two checks. A plain-Python reference, written from the specification one token at a time
(the regular expression ``TOKEN_PATTERN``, head-and-tail truncation, the polynomial token hash,
the n-gram mix), must agree with the array implementation on many texts. And digests of the
ids of fixed texts pin format 3 itself, so that any change to it (a speed-up included) fails
here until ``FORMAT_VERSION`` says the format changed."""

import hashlib
import random
import re

import numpy as np
import pytest

from model_build import preprocess
from model_build.preprocess import TOKEN_PATTERN, PreprocessConfig, Preprocessor, normalize, tokenize

pytestmark = pytest.mark.unit

TEXTS = [
    "A wonderful, moving film!<br /><br />I loved it &amp; would watch it again.",
    "Don't waste your time: dull plot, awful acting... 1/10",
    "",
    "?!",
    "Ünïcödé Straße ﬁne 😀 \u200b zero-width and \x96 control",
    "l'homme qui rit — a 1928 silent film, “quoted”",
    "lone surrogate \ud800 survives",
    " ".join(f"w{i}" for i in range(50)),
]

CONFIGS = [
    {},
    {"unique_ngrams": True},
    {"ngram_orders": (1, 2, 3, 4), "max_tokens": 9, "num_buckets": 1000},
    {"ngram_orders": (1,), "max_tokens": 4, "num_buckets": 1 << 17},
    {"negation_scope": 3},
    {"negation_scope": 8, "unique_ngrams": True, "vocabulary": "from the texts"},
]

# Characters that exercise every rule: words, inner and outer apostrophes, the underscore,
# punctuation, accents, combining marks, CJK, emoji, Unicode digits and spaces, a surrogate.
ALPHABET = list("ab z'  '_-.!0&;<>,") + [
    " not ",
    " never ",
    " don't ",
    " but ",
    "’",
    "é",
    "ß",
    "\u0301",
    "好",
    "😀",
    "\u2028",
    "\u00a0",
    "\ud800",
    "٣",
    "Ⅻ",
    "\u3000",
    "\x96",
]
MASK = (1 << 64) - 1


def random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def reference_values(config: PreprocessConfig, text: str) -> list[int]:
    """The 64-bit value of each n-gram of ``text``, order 1 first, one token at a time."""
    tokens = re.findall(TOKEN_PATTERN, normalize(text))
    if len(tokens) > config.max_tokens:
        head = (config.max_tokens + 1) // 2
        tokens = tokens[:head] + tokens[len(tokens) - (config.max_tokens - head) :]
    hashes = [
        sum(ord(c) * pow(preprocess._TOKEN_BASE, k, 1 << 64) for k, c in enumerate(token)) & MASK for token in tokens
    ]
    if config.negation_scope:
        scope_left = 0  # tokens still to mark
        for index, token in enumerate(tokens):
            if token in preprocess.NEGATORS:
                scope_left = config.negation_scope
            elif token in preprocess.SCOPE_ENDS:
                scope_left = 0
            elif scope_left:
                hashes[index] ^= int(preprocess._NEGATION_MARK)
                scope_left -= 1
    values = []
    for order in config.ngram_orders:
        for start in range(len(hashes) - order + 1):
            value = order * 0x100000001B3
            for position in range(order):
                value += hashes[start + position] * int(preprocess._POSITION_MULTIPLIERS[position])
            value &= MASK
            value ^= value >> 30
            value = (value * 0xBF58476D1CE4E5B9) & MASK
            value ^= value >> 27
            value = (value * 0x94D049BB133111EB) & MASK
            value ^= value >> 31
            values.append(value)
    return values


def reference_encode(config: PreprocessConfig, text: str) -> list[int]:
    values = reference_values(config, text)
    if config.vocabulary is None:
        ids = [value % (config.num_buckets - 1) + 1 for value in values]
    else:
        rows = {int(f): k + preprocess.FIRST_KNOWN_ID for k, f in enumerate(config.vocabulary.fingerprints)}
        ids = [rows.get(value >> 32, preprocess.UNKNOWN_ID) for value in values]
    return sorted(set(ids)) if config.unique_ngrams else ids


def built(config: dict, texts: list[str]) -> PreprocessConfig:
    """The config; ``"vocabulary": "from the texts"`` keeps every other n-gram of ``texts``."""
    if config.get("vocabulary") != "from the texts":
        return PreprocessConfig(**config)
    plain = PreprocessConfig(**{**config, "vocabulary": None})
    every = sorted({value >> 32 for text in texts for value in reference_values(plain, text)})
    return PreprocessConfig(**{**config, "vocabulary": preprocess.Vocabulary(np.array(every[::2], dtype=np.uint32))})


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_array_implementation_matches_the_plain_python_reference(config):
    texts = TEXTS + random_texts(300)
    config = built(config, texts)
    preprocessor = Preprocessor(config)

    expected = [reference_encode(config, text) for text in texts]

    assert [ids.tolist() for ids in preprocessor.encode_many(texts)] == expected
    assert [preprocessor.encode(text).tolist() for text in texts[:40]] == expected[:40]


def test_tokenizer_matches_its_regular_expression():
    pattern = re.compile(TOKEN_PATTERN)
    for text in random_texts(5000, seed=1) + TEXTS:
        assert tokenize(text) == pattern.findall(normalize(text)), repr(text)


@pytest.mark.parametrize(
    "config, digest",
    [
        ({}, "eaa4f9180833ca385ce23b7c7fae96a509aa7c061774798db99024a3e3b76700"),
        ({"unique_ngrams": True}, "ecd8ac4da51ef7e30d40d37028b6181fc8b8eb772d1b6e2f4b50e16fa7f8904e"),
        (
            {"ngram_orders": (1, 2, 3, 4), "max_tokens": 9, "num_buckets": 1000},
            "3e85103b59ce3817dd399e11ad98dbbf78e38eebdd1d46adca88f597ba5bcd67",
        ),
    ],
)
def test_encoding_is_unchanged_one_text_at_a_time_and_all_at_once(config, digest):
    preprocessor = Preprocessor(PreprocessConfig(**config))

    assert preprocess.FORMAT_VERSION == 3, "a new format needs new digests here"
    assert digest_of([preprocessor.encode(text) for text in TEXTS]) == digest
    assert digest_of(preprocessor.encode_many(TEXTS)) == digest


def test_long_batches_hash_the_same_as_short_ones():
    """Token hashes use powers of the base up to the batch length; a batch longer than any
    before grows them, and must not change a text's ids."""
    preprocessor = Preprocessor(PreprocessConfig(unique_ngrams=True))
    alone = preprocessor.encode(TEXTS[0])
    long_batch = ["word " * 40_000, TEXTS[0]]  # 200,000 characters ahead of the text
    assert np.array_equal(preprocessor.encode_many(long_batch)[1], alone)


def digest_of(encoded) -> str:
    hashed = hashlib.sha256()
    for ids in encoded:
        assert ids.dtype == "int64"
        hashed.update(len(ids).to_bytes(4, "little"))
        hashed.update(ids.astype("<i8").tobytes())
    return hashed.hexdigest()


def test_texts_taken_in_groups_encode_as_they_do_alone(monkeypatch):
    """`encode_many` bounds its memory by taking texts in groups of `CHARACTERS_AT_ONCE`
    characters (a text longer than that alone); grouping must not change any text's ids."""
    preprocessor = Preprocessor(PreprocessConfig(ngram_orders=(1, 2, 3)))
    texts = TEXTS + random_texts(60, seed=2) + ["word " * 30]  # the last is longer than a group
    alone = [preprocessor.encode(text).tolist() for text in texts]
    monkeypatch.setattr(preprocess, "CHARACTERS_AT_ONCE", 64)

    assert [ids.tolist() for ids in preprocessor.encode_many(texts)] == alone
