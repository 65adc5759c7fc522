"""Short-text training examples: crops of reviews and the lexicon teacher; the vocabulary."""

import numpy as np
import pytest

from model_build.crops import split_sentences, word_windows
from model_build.preprocess import DEFAULT_LABELS, PreprocessConfig, Preprocessor
from model_build.short_text import crops, lexicon_examples
from model_build.training_loop import training_batches
from model_build.vocabulary import choose_vocabulary

pytestmark = pytest.mark.unit


def test_sentences_and_windows():
    text = 'A fine start. Then it drags!<br /><br />"Really?" he asked... The end'
    assert split_sentences(text) == ["A fine start.", "Then it drags!", '"Really?"', "he asked...", "The end"]
    assert split_sentences(text, min_words=3) == ["A fine start.", "Then it drags!"]
    assert word_windows("a b c d e", 2, 2) == ["a b", "c d"]
    assert word_windows("a b", 5, 1) == ["a b"]
    assert word_windows("", 5, 1) == []


def test_crops_come_from_their_review_with_its_label_softened():
    texts = ["It was great. I loved every minute of it. The cast is superb, truly.", "Dull, slow and long."]
    examples = crops(texts, np.array([1, 0]), 2, sentences_per_text=2, windows_per_text=1, window_words=4,
                     smoothing=0.2, weight=0.5, seed=0)  # fmt: skip

    assert examples.texts  # the second text is one piece: trained on whole, not cropped
    assert all(piece in texts[0] or set(piece.split()) <= set(texts[0].split()) for piece in examples.texts)
    assert np.allclose(examples.targets, [[0.1, 0.9]] * len(examples))
    assert np.allclose(examples.weights, 0.5)
    again = crops(texts, np.array([1, 0]), 2, sentences_per_text=2, windows_per_text=1, window_words=4,
                  smoothing=0.2, weight=0.5, seed=0)  # fmt: skip
    assert again.texts == examples.texts


def test_the_lexicon_teaches_words_and_their_negation():
    examples = lexicon_examples(DEFAULT_LABELS, weight=1.0)
    positive = dict(zip(examples.texts, examples.targets[:, 1].tolist()))

    assert positive["delicious"] > 0.7 and positive["rude"] < 0.3
    assert positive["not good"] < 0.5 < positive["good"]
    assert positive["not terrible"] > 0.5 > positive["terrible"]
    assert np.allclose(examples.targets.sum(axis=1), 1)
    # other labels than negative/positive: the lexicon does not apply
    assert len(lexicon_examples(("spam", "ham", "eggs"), weight=1.0)) == 0


def test_the_vocabulary_keeps_the_most_frequent_ngrams():
    preprocessor = Preprocessor(PreprocessConfig(ngram_orders=(1,)))
    texts = ["common rare1", "common rare2", "common often", "often"]

    vocabulary = choose_vocabulary(preprocessor, texts, size=10, min_document_frequency=2)
    top_one = choose_vocabulary(preprocessor, texts, size=1, min_document_frequency=1)

    kept = Preprocessor(PreprocessConfig(ngram_orders=(1,), vocabulary=vocabulary))
    assert len(vocabulary) == 2
    assert [len(ids) for ids in kept.encode_with_evidence(["common", "often", "rare1"])[0]] == [1, 1, 1]
    assert kept.encode_with_evidence(["common", "often", "rare1"])[1].tolist() == [1, 1, 0]
    assert Preprocessor(PreprocessConfig(ngram_orders=(1,), vocabulary=top_one)).encode_with_evidence(
        ["common", "often"]
    )[1].tolist() == [1, 0]


def test_short_examples_share_larger_batches():
    sequences = [np.zeros(700)] * 64 + [np.zeros(10)] * 1000
    batches = training_batches(sequences, batch_size=32)

    assert sorted(np.concatenate(batches).tolist()) == list(range(1064))
    assert max(len(batch) for batch in batches) == 256  # short ones: up to 8 x 32
    assert all(len(batch) <= 32 for batch in batches if len(sequences[batch[0]]) == 700)
