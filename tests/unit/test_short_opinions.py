"""The generated short opinions that the calibration is fitted on (model_build/short_opinions.py)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from benchmarks.quality import SET_NAMES, read_set
from model_build.options import TrainOptions
from model_build.pipeline import calibration_opinions
from model_build.preprocess import DEFAULT_LABELS
from model_build.short_opinions import NEGATIVE, NEGATIVE_WORDS, POSITIVE, POSITIVE_WORDS, short_opinions

pytestmark = pytest.mark.unit

KINDS = {"plain", "intensified", "verb", "negated", "negated_verb", "contrast"}


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def test_the_same_seed_gives_the_same_opinions_and_another_seed_others():
    first, again, other = short_opinions(300, seed=4), short_opinions(300, seed=4), short_opinions(300, seed=5)
    assert first.texts == again.texts and np.array_equal(first.labels, again.labels)
    assert first.texts != other.texts


def test_opinions_are_distinct_balanced_and_of_every_kind():
    opinions = short_opinions(2000, seed=0)
    assert len(opinions) == 2000
    assert len({text.lower() for text in opinions.texts}) == 2000
    assert 0.45 < opinions.labels.mean() < 0.55
    assert set(Counter(opinions.kinds)) == KINDS
    assert set(opinions.labels.tolist()) == {NEGATIVE, POSITIVE}


def test_a_negated_opinion_holds_a_negator_and_a_word_of_the_other_sentiment():
    opinions = short_opinions(2000, seed=1)
    for text, label, kind in zip(opinions.texts, opinions.labels.tolist(), opinions.kinds, strict=True):
        if kind != "negated":
            continue
        assert re.search(r"\b(not|never|nothing)\b|n'?t\b", text.lower()), text
        other = NEGATIVE_WORDS if label == POSITIVE else POSITIVE_WORDS
        assert any(re.search(rf"\b{re.escape(word)}\b", text.lower()) for word in other), text


def test_a_contrast_is_decided_by_its_second_clause():
    opinions = short_opinions(2000, seed=2)
    for text, label, kind in zip(opinions.texts, opinions.labels.tolist(), opinions.kinds, strict=True):
        if kind != "contrast":
            continue
        second = re.split(r",", text.lower(), maxsplit=1)[1]
        words = POSITIVE_WORDS if label == POSITIVE else NEGATIVE_WORDS
        assert any(re.search(rf"\b{re.escape(word)}\b", second) for word in words), text


def test_no_generated_opinion_is_a_text_of_the_evaluation_sets():
    evaluation = {_key(item["text"]) for name in SET_NAMES for item in read_set(name)}
    default = calibration_opinions(TrainOptions(out="models"), DEFAULT_LABELS)  # what training fits on
    assert len(default) == TrainOptions(out="models").calibration_opinions
    generated = {_key(text) for text in default.texts}
    assert generated.isdisjoint(evaluation)
