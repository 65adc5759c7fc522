"""Distillation: the teacher's soft labels for unlabelled reviews and their crops, and the
naive-Bayes weights that let the lexicon teach words the reviews never use."""

from __future__ import annotations

import numpy as np
import pytest

from model_build import distillation
from model_build.models import bow
from model_build.pipeline import unlabelled_sample
from model_build.preprocess import DEFAULT_LABELS

pytestmark = pytest.mark.unit

REVIEWS = [
    "The plot was thin. The acting was wonderful and the music lovely. I would watch it again.",
    "A dull film. The script was awful and the pacing terrible. Nothing happens for an hour.",
    "The film runs two hours. It was shot in Spain. The camera stays on the actors.",
]
CROPS = {"sentences_per_text": 3, "windows_per_text": 0, "window_words": 12, "weight": 0.5}


def test_reviews_keep_the_teachers_probabilities():
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]], dtype=np.float32)
    examples = distillation.review_examples(probabilities, REVIEWS, weight=0.7)
    assert examples.texts == REVIEWS
    np.testing.assert_allclose(examples.targets, probabilities)
    assert examples.weights.tolist() == pytest.approx([0.7] * 3)


def test_a_crop_is_its_reviews_probability_moved_towards_vaders_score_of_it():
    # the teacher is unsure of every review: what moves a crop is VADER's reading of it
    probabilities = np.full((3, 2), 0.5, dtype=np.float32)
    examples = distillation.crop_examples(probabilities, REVIEWS, DEFAULT_LABELS, **CROPS, seed=0)
    positive = dict(zip(examples.texts, examples.targets[:, 1].tolist(), strict=True))
    assert positive["The acting was wonderful and the music lovely."] > 0.65
    assert positive["The script was awful and the pacing terrible."] < 0.35
    # no sentiment word: the review's own probability
    assert positive["It was shot in Spain."] == pytest.approx(0.5)
    np.testing.assert_allclose(examples.targets.sum(axis=1), 1.0, rtol=1e-6)
    assert examples.weights.tolist() == pytest.approx([0.5] * len(examples))


def test_crops_of_other_labels_take_their_reviews_probabilities_alone():
    probabilities = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]], dtype=np.float32)
    examples = distillation.crop_examples(probabilities, REVIEWS, ("a", "b", "c"), **CROPS, seed=0)
    owners = [next(i for i, review in enumerate(REVIEWS) if text in review) for text in examples.texts]
    np.testing.assert_allclose(examples.targets, probabilities[owners], rtol=1e-6)


def test_crops_are_the_same_for_the_same_seed():
    probabilities = np.full((3, 2), 0.5, dtype=np.float32)
    settings = {**CROPS, "sentences_per_text": 1, "windows_per_text": 1, "window_words": 4}
    first = distillation.crop_examples(probabilities, REVIEWS, DEFAULT_LABELS, **settings, seed=3)
    again = distillation.crop_examples(probabilities, REVIEWS, DEFAULT_LABELS, **settings, seed=3)
    assert first.texts == again.texts
    np.testing.assert_array_equal(first.targets, again.targets)


def test_the_unlabelled_sample_is_seeded_and_keeps_file_order():
    texts = [f"review {i}" for i in range(100)]
    sample = unlabelled_sample(texts, 10, seed=1)
    assert len(sample) == 10 and sample == sorted(sample, key=texts.index)
    assert sample == unlabelled_sample(texts, 10, seed=1)
    assert unlabelled_sample(texts, 500, seed=1) == texts


def test_lexicon_counts_give_a_word_the_reviews_never_use_a_naive_bayes_weight():
    model = bow.Model(bow.Config(num_classes=2), rows=8)
    reviews = [np.array([2, 3]), np.array([2, 4])]  # 3 only in the negative review, 4 in the positive
    lexicon = [np.array([5]), np.array([6])]  # words of no review: 5 positive, 6 negative
    counts = np.array([[1, 0], [0, 1], [1, 9], [8, 2]], dtype=np.float32)

    model.fit_ngram_weights(reviews + lexicon, counts)

    weights = model.ngram_weights.numpy()
    assert weights[5] > 1.0 and weights[6] < -1.0
    assert weights[4] > 0 > weights[3]
    assert weights[0] == 0.0  # padding

    model.fit_ngram_weights(reviews, counts[:2])  # reviews alone: both words look alike
    assert model.ngram_weights[5] == pytest.approx(model.ngram_weights[6])
