"""Pins the ids `Preprocessor.encode` gives: serving must rebuild exactly what a published
bundle was trained with, so any change to the hashing (a speed-up included) must keep them.
The digests were taken from the first implementation (one text at a time, before the batch
encoder and the ASCII tokenizer path)."""

import hashlib

import pytest

from model_build.preprocess import PreprocessConfig, Preprocessor

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


@pytest.mark.parametrize(
    "config, digest",
    [
        ({}, "2131fdf018d42b4528d29e7cb8973290c419d5ceabc427ae37bdd35344caf5aa"),
        ({"unique_ngrams": True}, "5a9a7ccdc3a1ef86b7bedd9b5d7da13af6d824139e4643f8aa8645470ca6deb5"),
        (
            {"ngram_orders": (1, 2, 3, 4), "max_tokens": 9, "num_buckets": 1000},
            "97450fccab3db7c845a84d2b49efc88ea99d3f706d6eacd976a83d39f0342fb2",
        ),
    ],
)
def test_encoding_is_unchanged_one_text_at_a_time_and_all_at_once(config, digest):
    preprocessor = Preprocessor(PreprocessConfig(**config))

    assert digest_of([preprocessor.encode(text) for text in TEXTS]) == digest
    assert digest_of(preprocessor.encode_many(TEXTS)) == digest


def digest_of(encoded) -> str:
    hashed = hashlib.sha256()
    for ids in encoded:
        assert ids.dtype == "int64"
        hashed.update(len(ids).to_bytes(4, "little"))
        hashed.update(ids.astype("<i8").tobytes())
    return hashed.hexdigest()
