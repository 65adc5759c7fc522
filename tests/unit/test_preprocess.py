"""Preprocessing: deterministic, total over Unicode, rebuilt from preprocess.json alone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from model_build.preprocess import (
    FIRST_KNOWN_ID,
    NEGATORS,
    PADDING_ID,
    SCOPE_ENDS,
    UNKNOWN_ID,
    Calibration,
    PreprocessConfig,
    PreprocessConfigError,
    Preprocessor,
    Vocabulary,
    _negated,
    _token_hash,
    normalize,
    tokenize,
)

pytestmark = pytest.mark.unit

CONFIG = PreprocessConfig(num_buckets=1 << 16, ngram_orders=(1, 2, 3), max_tokens=512)

UNICODE_CASES = {
    "empty": "",
    "whitespace": " \t\n\r ",
    "chinese": "这部电影非常好看，演员的表演令人信服。",
    "emoji": "loved it 😍🎬🔥 would watch again 👍🏽",
    "arabic": "هذا الفيلم رائع جدا",
    "hebrew": "הסרט הזה היה משעמם",
    "control characters": "bad\x01\x02\x1b[31m movie\x7f\u200b\u202e",
    "nul": "good\x00movie\x00\x00",
    "lone surrogate": "broken \ud800 text \udfff",
    "combining marks": "Ame\u0301lie e\u0301te\u0301 cafe\u0301",
    "only punctuation": "!!! ??? ...",
    "very long": "a fine film, truly. " * 1000,  # 20,000 characters
}


@pytest.mark.parametrize("text", UNICODE_CASES.values(), ids=UNICODE_CASES.keys())
def test_any_text_yields_valid_ids(text):
    ids = Preprocessor(CONFIG).encode(text)
    assert ids.dtype == np.int64
    assert ((ids >= 1) & (ids < CONFIG.num_buckets)).all()


@pytest.mark.parametrize("text", UNICODE_CASES.values(), ids=UNICODE_CASES.keys())
def test_any_text_yields_a_valid_batch(text):
    batch = Preprocessor(CONFIG).encode_batch([text, "ok"])
    assert batch.dtype == np.int64
    assert batch.shape[0] == 2 and batch.shape[1] >= 1
    assert ((batch >= 0) & (batch < CONFIG.num_buckets)).all()


def test_text_without_tokens_is_padding_only():
    assert Preprocessor(CONFIG).encode_batch([""]).tolist() == [[PADDING_ID]]


def test_twenty_thousand_characters_are_truncated_to_max_tokens():
    ids = Preprocessor(CONFIG).encode(UNICODE_CASES["very long"])
    orders = len(CONFIG.ngram_orders)
    assert len(ids) <= CONFIG.max_tokens * orders


def test_truncation_keeps_head_and_tail():
    config = PreprocessConfig(num_buckets=1 << 16, ngram_orders=(1,), max_tokens=4)
    pre = Preprocessor(config)
    text = "first second " + "filler " * 50 + "penultimate last"
    expected = pre.encode("first second penultimate last")
    assert pre.encode(text).tolist() == expected.tolist()


def test_encoding_is_deterministic_within_a_process():
    pre = Preprocessor(CONFIG)
    text = "A gripping, well-acted thriller; I didn't expect the ending!"
    assert pre.encode(text).tolist() == Preprocessor(CONFIG).encode(text).tolist()


def test_encoding_is_identical_across_processes():
    """Python's str hash is salted per process; ours must not be."""
    code = (
        "from model_build.preprocess import Preprocessor, PreprocessConfig;"
        "print(Preprocessor(PreprocessConfig(num_buckets=65536)).encode('déjà vu, 好 😍 film').tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    expected = Preprocessor(PreprocessConfig(num_buckets=65536)).encode("déjà vu, 好 😍 film").tolist()
    assert outputs.pop().strip() == str(expected)


def test_html_breaks_and_entities_are_resolved():
    assert tokenize("Great<br /><br />fun &amp; games&#33;") == ["great", "fun", "&", "games", "!"]


def test_normalization_folds_case_and_compatibility_forms():
    assert normalize("ＭＯＶＩＥ Straße") == "movie strasse"


def test_contractions_stay_one_token():
    assert tokenize("I don't like it") == ["i", "don't", "like", "it"]


def test_unique_ngrams_keeps_each_bucket_once():
    config = PreprocessConfig(num_buckets=1 << 16, ngram_orders=(1,), unique_ngrams=True)
    ids = Preprocessor(config).encode("bad bad bad good")
    assert len(ids) == 2 and len(set(ids.tolist())) == 2


def test_ngram_orders_add_ngram_ids():
    text = "not good at all"
    unigrams = Preprocessor(PreprocessConfig(ngram_orders=(1,))).encode(text)
    with_bigrams = Preprocessor(PreprocessConfig(ngram_orders=(1, 2))).encode(text)
    assert len(unigrams) == 4 and len(with_bigrams) == 4 + 3
    assert with_bigrams[:4].tolist() == unigrams.tolist()


def test_round_trip_through_preprocess_json():
    config = PreprocessConfig(num_buckets=12345, ngram_orders=(1, 3), max_tokens=77, unique_ngrams=True)
    rebuilt = Preprocessor.from_json(config.to_json().encode())
    assert rebuilt.config == config
    texts = list(UNICODE_CASES.values())
    assert np.array_equal(rebuilt.encode_batch(texts), Preprocessor(config).encode_batch(texts))


@pytest.mark.parametrize(
    "document, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"num_buckets": 1}', "num_buckets"),
        (b'{"ngram_orders": [1, 9]}', "ngram_orders"),
        (b'{"max_tokens": 0}', "max_tokens"),
        (b'{"format": 99}', "format"),
        (b'{"colour": "blue"}', "unknown fields"),
    ],
)
def test_invalid_preprocess_json_is_refused_with_a_reason(document, message):
    with pytest.raises(PreprocessConfigError, match=message):
        Preprocessor.from_json(document)


def test_preprocessing_imports_no_torch():
    code = "import sys, model_build.preprocess, model_build.bundle, model_build.storage; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# -- negation, the vocabulary and evidence (format 3) ----------------------------------------

NEGATING = PreprocessConfig(num_buckets=1 << 16, ngram_orders=(1,), negation_scope=8)


def test_a_negated_word_is_an_ngram_of_its_own():
    pre = Preprocessor(NEGATING)
    good = set(pre.encode("good").tolist())

    assert good <= set(pre.encode("it was good").tolist())
    assert not good & set(pre.encode("it was not good").tolist())
    assert pre.ngram_texts("it was not good") == {pre.encode(word)[0]: word for word in ("it", "was", "not")} | {
        next(iter(set(pre.encode("not good").tolist()) - set(pre.encode("not").tolist()))): "NOT_good"
    }


@pytest.mark.parametrize(
    "text, negated",
    [
        ("I don't think this is a great movie.", ["think", "this", "is", "a", "great", "movie"]),
        ("I don’t like it", ["like", "it"]),  # a typographic apostrophe is an apostrophe
        ("not bad, but not good either", ["bad", "good", "either"]),  # a comma ends the scope
        ("never boring but dull", ["boring"]),  # so does a contrast word
        ("no. great", []),
        ("not " + "a " * 10 + "good", ["a"] * 8),  # at most negation_scope tokens
    ],
)
def test_the_scope_of_a_negation_runs_to_the_next_punctuation_or_contrast(text, negated):
    marked = [name[4:] for name in Preprocessor(NEGATING).ngram_texts(text).values() if name.startswith("NOT_")]
    assert sorted(marked) == sorted(set(negated))


def _negated_token_by_token(tokens: list[str], owners: list[int], scope: int) -> list[bool]:
    """The negation rule read plainly: a token is negated when the last negator before it, of
    its own text, is at most ``scope`` tokens back with no scope end since (and it is none)."""
    marked, last_negator, last_end = [], None, None
    for index, (token, owner) in enumerate(zip(tokens, owners, strict=True)):
        if token in SCOPE_ENDS:
            last_end = index
        marked.append(
            token not in NEGATORS
            and last_negator is not None
            and owners[last_negator] == owner
            and index - last_negator <= scope
            and (last_end is None or last_end < last_negator)
        )
        if token in NEGATORS:
            last_negator = index
    return marked


@pytest.mark.parametrize("seed", range(20))
def test_negation_marks_the_tokens_that_the_plain_rule_marks(seed):
    rng = np.random.default_rng(seed)
    words = ["good", "film", "a", "very", *sorted(NEGATORS)[:6], *sorted(SCOPE_ENDS)[:4]]
    tokens = [words[i] for i in rng.integers(len(words), size=int(rng.integers(1, 300)))]
    owners = np.sort(rng.integers(0, 5, size=len(tokens)))
    hashes = np.array([_token_hash(token) for token in tokens], dtype=np.uint64)
    for scope in (1, 3, 8):
        expected = _negated_token_by_token(tokens, owners.tolist(), scope)
        assert _negated(hashes, owners, scope).tolist() == expected


def test_negation_does_not_leak_from_one_text_into_the_next():
    pre = Preprocessor(NEGATING)
    together = pre.encode_many(["this is not", "good"])
    assert together[1].tolist() == pre.encode("good").tolist()


def test_the_vocabulary_maps_known_ngrams_to_rows_and_every_other_to_the_shared_row():
    plain = Preprocessor(PreprocessConfig(ngram_orders=(1, 2), unique_ngrams=True))
    vocabulary = Vocabulary(np.concatenate(plain.fingerprints_many(["a great film", "an awful film"])))
    pre = Preprocessor(PreprocessConfig(ngram_orders=(1, 2), unique_ngrams=True, vocabulary=vocabulary))

    known = pre.encode("great film")
    unknown = pre.encode("zxcv qwer")

    assert len(vocabulary) == 9  # 3 + 3 words ("film" twice) and 2 + 2 bigrams
    assert pre.config.table_rows == FIRST_KNOWN_ID + 9
    assert ((known >= FIRST_KNOWN_ID) & (known < pre.config.table_rows)).all() and len(known) == 3
    assert unknown.tolist() == [UNKNOWN_ID]
    assert pre.encode("great zxcv").tolist() == sorted({UNKNOWN_ID, *pre.encode("great").tolist()})


def test_the_vocabulary_travels_in_preprocess_json():
    plain = Preprocessor(PreprocessConfig())
    vocabulary = Vocabulary(np.concatenate(plain.fingerprints_many([f"word{i} other{i % 7}" for i in range(500)])))
    config = PreprocessConfig(vocabulary=vocabulary, negation_scope=4)

    again = PreprocessConfig.from_json(config.to_json())

    assert again == config and again.vocabulary == vocabulary
    texts = ["word3 other3", "word499 unknown", "nothing here"]
    assert [ids.tolist() for ids in Preprocessor(again).encode_many(texts)] == [
        ids.tolist() for ids in Preprocessor(config).encode_many(texts)
    ]


@pytest.mark.parametrize("broken", ["not base64!", "aGVsbG8="])
def test_an_unreadable_vocabulary_is_refused(broken):
    document = PreprocessConfig().to_json().replace('"vocabulary": null', f'"vocabulary": "{broken}"')
    with pytest.raises(PreprocessConfigError, match="vocabulary"):
        PreprocessConfig.from_json(document)


def test_evidence_counts_known_ngrams_that_hold_a_word():
    plain = Preprocessor(PreprocessConfig(ngram_orders=(1, 2)))
    vocabulary = Vocabulary(np.concatenate(plain.fingerprints_many(["a great film !", "! !"])))
    pre = Preprocessor(PreprocessConfig(ngram_orders=(1, 2), vocabulary=vocabulary))

    _, evidence, worded = pre.encode_with_evidence(["great film", "asdf qwer", "! !", "", "great !"])

    # "great", "film", "great film" | nothing known | "!" and "! !" hold no word | nothing | "great"
    assert evidence.tolist() == [3, 0, 0, 0, 1]
    # known or not: "asdf", "qwer", "asdf qwer" | "great", "great !"
    assert worded.tolist() == [3, 3, 0, 0, 2]


def test_without_a_vocabulary_evidence_is_the_ngrams_that_hold_a_word():
    encoding = Preprocessor(PreprocessConfig(ngram_orders=(1, 2))).encode_with_evidence(["!!", "ok !", " "])
    assert encoding.evidence.tolist() == encoding.worded.tolist() == [0, 2, 0]


def test_calibration_travels_in_preprocess_json_and_scales_by_ngram_count():
    config = PreprocessConfig(calibration=Calibration(log_scale=-0.5, evidence_power=0.25))
    again = PreprocessConfig.from_json(config.to_json())
    assert again.calibration == config.calibration

    scales = again.calibration.scales(np.array([0, 1, 16]))
    assert scales == pytest.approx([np.exp(-0.5), np.exp(-0.5), np.exp(-0.5) * 2])
    probabilities = again.calibration.probabilities(np.array([[0.0, 2.0]]), np.array([16]))
    assert probabilities[0, 1] == pytest.approx(1 / (1 + np.exp(-2 * scales[2])))


def test_vocabulary_ids_are_those_of_a_binary_search():
    from model_build.preprocess import FIRST_KNOWN_ID, UNKNOWN_ID, Vocabulary

    rng = np.random.default_rng(7)
    crowded = np.arange(5000, dtype=np.uint32)  # all in one slot of the first table, and the next ones' test
    for known in [
        *(
            np.unique(rng.integers(0, 2**32, size, dtype=np.uint64).astype(np.uint32))
            for size in (0, 1, 3, 1000, 200_000)
        ),
        crowded,
        np.unique(np.concatenate([crowded, np.uint32(2**32 - 1) - crowded])),
    ]:
        vocabulary = Vocabulary(known)
        edges = np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint32)
        queries = np.concatenate([known, rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32), edges])
        rows = np.minimum(np.searchsorted(known, queries), max(len(known) - 1, 0))
        found = known[rows] == queries if len(known) else np.zeros(len(queries), dtype=bool)
        expected = np.where(found, rows + FIRST_KNOWN_ID, UNKNOWN_ID)
        # a small lookup before the tables exist searches the sorted array
        np.testing.assert_array_equal(vocabulary.ids(queries[:500]), expected[:500])
        np.testing.assert_array_equal(vocabulary.ids(queries[-500:]), expected[-500:])
        assert vocabulary._tables is None
        vocabulary._slot_tables()
        # every lookup goes through the tables once they are built
        np.testing.assert_array_equal(vocabulary.ids(queries), expected)
        np.testing.assert_array_equal(vocabulary.ids(queries[:7]), expected[:7])


def test_the_vocabulary_builds_its_tables_once_enough_fingerprints_were_looked_up():
    from model_build.preprocess import TABLES_FROM_LOOKUPS, Vocabulary

    rng = np.random.default_rng(11)
    known = np.unique(rng.integers(0, 2**32, 50_000, dtype=np.uint64).astype(np.uint32))
    # in one lookup
    vocabulary = Vocabulary(known)
    small = vocabulary.ids(known[: TABLES_FROM_LOOKUPS - 1])
    assert vocabulary._tables is None
    large = Vocabulary(known).ids(known[:TABLES_FROM_LOOKUPS])
    np.testing.assert_array_equal(large[:-1], small)
    # over several: the one that reaches the count builds them
    vocabulary = Vocabulary(known)
    step = TABLES_FROM_LOOKUPS // 4
    for start in range(0, 3 * step, step):
        vocabulary.ids(known[start : start + step])
        assert vocabulary._tables is None
    vocabulary.ids(known[:step])
    assert vocabulary._tables is not None
    # and a vocabulary read from preprocess.json starts without them
    decoded = Vocabulary.decode(vocabulary.encode())
    assert decoded._tables is None and decoded == vocabulary
    np.testing.assert_array_equal(decoded.ids(known[:100]), small[:100])


def test_token_sets_hold_exactly_the_hashes_of_their_tokens():
    from model_build.preprocess import _token_hash, _TokenSet

    tokens = ["not", "never", "don't", ".", ",", "but", "\u4e0d"]
    token_set = _TokenSet(tokens)
    rng = np.random.default_rng(3)
    own = np.array([_token_hash(token) for token in tokens], dtype=np.uint64)
    others = np.concatenate([rng.integers(0, 2**63, 50_000, dtype=np.uint64), np.arange(4096, dtype=np.uint64)])
    hashes = np.concatenate([others, own, own[::-1]])
    np.testing.assert_array_equal(token_set.holds(hashes), np.isin(hashes, own))
    assert token_set.holds(np.zeros(0, dtype=np.uint64)).tolist() == []


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII, Mixed CASE.",
        "it`s &amp; <br />more",
        "tab\tand\nnul\x00",
        "Caf\u00e9 \ufb01ne \u2019quoted\u2019",
        "&eacute;t\u00e9 STRASSE Stra\u00dfe",
        "\u0130stanbul \u212b",
        "",
    ],
)
def test_normalization_of_ascii_and_of_other_text_is_one_rule(text):
    """ASCII text takes a shortcut; it gives what the general rule gives."""
    import html
    import unicodedata

    from model_build.preprocess import _BREAK_TAG, _INVISIBLE_AS_SPACE

    general = unicodedata.normalize("NFKC", html.unescape(_BREAK_TAG.sub(" ", text))).casefold()
    for apostrophe in "\u2019\u2018\u02bc\u2032`":
        general = general.replace(apostrophe, "'")
    assert normalize(text) == general.translate(_INVISIBLE_AS_SPACE)
