"""One loaded bundle: predictions in input order whatever the batching, labels from the bundle."""

import dataclasses
import json
import random

import numpy as np
import pytest
from synthetic_imdb import review

from functions.sentiment_model import (
    MAX_BATCH_IDS,
    TRAINING_LANGUAGE_KNOWN_SHARE,
    TRAINING_LANGUAGE_NGRAMS,
    SentimentModel,
    _similar_length_batches,
    in_training_language,
)
from model_build import bundle
from model_build.bundle import BundleError
from model_build.preprocess import Preprocessor

pytestmark = pytest.mark.unit


def load_model(models_root, labels=None, calibration=None) -> SentimentModel:
    """The published model of ``models_root``, its labels renamed when ``labels`` is given, its
    calibration replaced when ``calibration`` is."""
    version = bundle.Pointer.from_json((models_root / bundle.POINTER_FILE).read_bytes()).version
    folder = models_root / version
    card = json.loads((folder / bundle.CARD_FILE).read_text())
    config = Preprocessor.from_json((folder / bundle.PREPROCESS_FILE).read_bytes()).config
    if labels is not None:
        config = dataclasses.replace(config, labels=labels)
    if calibration is not None:
        config = dataclasses.replace(config, calibration=calibration)
    return SentimentModel.load(folder / bundle.MODEL_FILE, Preprocessor(config), card, threads=1)


@pytest.fixture(scope="module")
def model(tiny_bundle_root):
    return load_model(tiny_bundle_root)


def test_batches_cover_every_row_once_within_the_id_budget():
    rng = np.random.default_rng(0)
    lengths = [int(n) for n in rng.integers(0, 5000, size=700)]

    batches = _similar_length_batches(lengths)

    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(700))
    assert all(len(b) == 1 or len(b) * max(lengths[r] for r in b) <= MAX_BATCH_IDS for b in batches)


def test_predictions_keep_the_input_order_across_batches(model):
    texts = [
        "great wonderful film " * (i % 40 + 1) if i % 2 else "awful boring mess " * (i % 25 + 1) for i in range(300)
    ]

    together = model.probabilities(texts)
    one_by_one = np.vstack([model.probabilities([text]) for text in texts])

    # int8 dynamic quantization scales the classifier's input per run: a text's probabilities
    # move by ~1e-4 with the texts it shares a run with, never more
    np.testing.assert_allclose(together, one_by_one, atol=1e-3)
    assert (together.argmax(axis=1) == one_by_one.argmax(axis=1)).all()
    assert [p.label for p in model.classify(texts[:2])] == ["negative", "positive"]


def test_a_prediction_names_its_label_and_sums_to_one(model):
    (prediction,) = model.classify(["a wonderful, superb film"])

    assert prediction.label == "positive"
    assert prediction.score == max(prediction.probabilities.values())
    assert sum(prediction.probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert set(prediction.probabilities) == {"negative", "positive"}


def test_a_file_that_is_no_onnx_graph_is_a_bundle_error(model, tmp_path):
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a graph")

    with pytest.raises(BundleError, match="cannot load"):
        SentimentModel.load(broken, model._preprocessor, model.card, threads=1)


@pytest.mark.parametrize("labels", [("negative", "positive"), ('neg "quoted" {0} \\', "pös {}}")])
def test_prediction_lines_are_json_dumps_of_the_predictions(tiny_bundle_root, labels):
    model = load_model(tiny_bundle_root, labels)
    rng = np.random.default_rng(0)
    words = ["great", "awful", "film", "not", "boring", "superb", "plot", "!", "the", "a"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(300)]
    # and texts that abstain, for each reason
    texts[10:10] = ["\u200b", "这部电影太好看了，我非常喜欢它的故事和演员。", "asdf qwer zxcv", ""]

    lines = model.classify_lines(texts)

    expected = model.classify(texts)
    assert lines.objects == [json.dumps(p.to_dict(), ensure_ascii=False) for p in expected]
    assert lines.labels == [p.label for p in expected]
    assert lines.languages == [p.language for p in expected]
    assert lines.abstentions == [None if p.abstained is None else p.abstained.reason for p in expected]
    assert {"no_evidence", "unsupported_language"} <= set(lines.abstentions)


def test_a_bow_explanation_sums_with_the_bias_to_the_calibrated_logit(model):
    text = "a wonderful, superb film that was not boring"
    (prediction,) = model.classify([text])
    probabilities = prediction.probabilities

    terms = model.explain(text, prediction.label)
    ids_count = len(model._preprocessor.encode(text))
    total = sum(term.weight for term in terms) + model.logit_bias(prediction.label, ids_count)

    other = next(label for label in model.labels if label != prediction.label)
    assert total == pytest.approx(np.log(probabilities[prediction.label] / probabilities[other]), abs=1e-3)
    (shown,) = model.classify([text], explain=True)
    assert 0 < len(shown.explanation) <= 10
    assert abs(shown.explanation[0].weight) >= abs(shown.explanation[-1].weight)


def test_abstentions_carry_no_label_and_say_why(model):
    chinese, nothing = model.classify(["这部电影太好看了，我非常喜欢这个故事。", "\u200b \u200b"])
    assert (chinese.label, chinese.score, chinese.probabilities) == (None, None, None)
    assert chinese.abstained.reason == "unsupported_language" and chinese.language == "zh"
    assert nothing.abstained.reason == "no_evidence" and nothing.language == "und"


def test_a_short_text_adds_the_weighted_lexicon_score_and_a_long_one_does_not(tiny_bundle_root):
    from functions.sentiment_model import LEXICON_TERM
    from model_build.lexicon import compound_scores
    from model_build.preprocess import Calibration

    short = "The food was not good at all."
    long = "A wonderful, superb film that was not boring; the acting was great and the plot was good. " + short
    ids_count = len(load_model(tiny_bundle_root)._preprocessor.encode(short))
    calibration = Calibration(log_scale=-0.3, lexicon_weight=4.0, lexicon_max_ngrams=ids_count)
    model = load_model(tiny_bundle_root, calibration=calibration)
    plain = load_model(tiny_bundle_root, calibration=dataclasses.replace(calibration, lexicon_weight=0.0))
    assert len(model._preprocessor.encode(long)) > ids_count

    with_lexicon, without = model.probabilities([short, long]), plain.probabilities([short, long])

    compound = compound_scores([short])[0]
    assert compound < -0.3  # VADER reads the negation
    odds = np.log(with_lexicon[0, 1] / with_lexicon[0, 0]) - np.log(without[0, 1] / without[0, 0])
    assert odds == pytest.approx(4.0 * compound, abs=1e-4)
    np.testing.assert_allclose(with_lexicon[1], without[1], rtol=1e-6)
    # the explanation names the lexicon's share, and with the bias still sums to the logit
    (prediction,) = model.classify([short])
    terms = model.explain(short, prediction.label)
    assert LEXICON_TERM in [term.text for term in terms]
    total = sum(term.weight for term in terms) + model.logit_bias(
        prediction.label, len(model._preprocessor.encode(short))
    )
    other = next(label for label in model.labels if label != prediction.label)
    assert total == pytest.approx(
        np.log(prediction.probabilities[prediction.label] / prediction.probabilities[other]), abs=1e-3
    )
    assert LEXICON_TERM not in [term.text for term in model.explain(long, "positive")]
    # classify reuses the score it computed: the same term as explain computes anew
    (explained,) = model.classify([short], explain=True)
    lexicon_term = next(term for term in terms if term.text == LEXICON_TERM)
    assert {term.text: term.weight for term in explained.explanation}[LEXICON_TERM] == round(lexicon_term.weight, 4)


def test_only_a_long_text_mostly_of_known_ngrams_counts_as_in_the_training_language():
    worded = np.array([TRAINING_LANGUAGE_NGRAMS, TRAINING_LANGUAGE_NGRAMS, TRAINING_LANGUAGE_NGRAMS - 1, 0, 200])
    known_share = np.array([TRAINING_LANGUAGE_KNOWN_SHARE, TRAINING_LANGUAGE_KNOWN_SHARE - 0.05, 1.0, 0.0, 0.9])
    evidence = np.ceil(known_share * worded).astype(np.int64)

    assert in_training_language(evidence, worded).tolist() == [True, False, False, False, True]


def test_a_long_text_of_the_vocabulary_is_in_the_training_language_and_another_is_identified(model):
    assert model.supported_languages == {"en"}
    # reviews of the kind the tiny model was trained on: words its vocabulary holds
    known = " ".join(review(random.Random(seed), positive=True) for seed in range(6))
    german = (
        "Der Film war leider eine einzige Enttäuschung. Die Schauspieler wirkten gelangweilt, die Handlung "
        "war vorhersehbar und die Musik viel zu laut. Nach einer Stunde sind wir gegangen, und das Geld "
        "für die Karten hätten wir uns wirklich sparen können. Schade um den schönen Abend."
    )
    encoding = model._preprocessor.encode_with_evidence([known, german])
    assert in_training_language(encoding.evidence, encoding.worded).tolist() == [True, False]

    english, other = model.classify([known, german])

    assert english.language == "en" and english.abstained is None and english.label == "positive"
    assert other.language == "de" and other.abstained is not None
    assert other.abstained.reason == "unsupported_language"
