"""The hand-written evaluation sets of ``benchmarks/quality_sets`` and the metrics of
``python -m benchmarks.quality`` on small hand-made predictions."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmarks.quality import (
    NEUTRAL_FACTS,
    NO_EVIDENCE_STRINGS,
    OOD_SHORT_REVIEWS,
    OTHER_LANGUAGES,
    SERVED_CALIBRATION,
    SET_NAMES,
    SETS_FOLDER,
    SHORT_OPINION_CATEGORIES,
    SHORT_OPINIONS,
    VERY_SHORT_ENGLISH,
    Measure,
    ScoredSet,
    Target,
    abstained_or_right_share,
    abstained_share,
    accuracy,
    answered_share,
    calibration_error,
    calibration_frontier,
    confident_wrong_count,
    last_sentences,
    mean_answered_score,
    read_set,
    render_frontier,
    render_table,
    share_of_answers_at_least,
    stratified_sample,
    taken_for_other_language_share,
)
from functions.sentiment_model import NO_EVIDENCE, UNSUPPORTED_LANGUAGE, Abstention, Prediction
from model_build.crops import split_sentences
from model_build.preprocess import Calibration

pytestmark = pytest.mark.unit

REPOSITORY = Path(__file__).resolve().parents[2]
LABELS = {"negative", "positive"}
FIELDS = {
    SHORT_OPINIONS: {"text", "label", "category"},
    NEUTRAL_FACTS: {"text"},
    OOD_SHORT_REVIEWS: {"text", "label", "domain"},
    OTHER_LANGUAGES: {"text", "label", "language"},
    VERY_SHORT_ENGLISH: {"text"},
    NO_EVIDENCE_STRINGS: {"text"},
}
MINIMUM_SIZES = {
    SHORT_OPINIONS: 420,
    NEUTRAL_FACTS: 150,
    OOD_SHORT_REVIEWS: 300,
    OTHER_LANGUAGES: 260,
    VERY_SHORT_ENGLISH: 120,
    NO_EVIDENCE_STRINGS: 100,
}
MINIMUM_CATEGORY_SIZES = {"plain": 140, "negated_positive": 90, "negated_negative": 90, "contrast": 100}
REQUIRED_LANGUAGES = {"de", "fr", "es", "it", "pt", "nl", "sv", "pl", "tr", "ru", "zh", "ja", "ko", "ar"}
MOVIE_DOMAINS = {"movie", "movies", "film", "films", "tv", "cinema"}


def _sets() -> dict[str, list[dict]]:
    return {name: read_set(name) for name in SET_NAMES}


def _texts_with_words() -> list[tuple[str, str]]:
    """(set, text) of every set but the no-evidence strings, which are meant to hold no words."""
    return [(name, item["text"]) for name, items in _sets().items() if name != NO_EVIDENCE_STRINGS for item in items]


def _label_share(items: list[dict], label: str = "positive") -> float:
    return sum(item["label"] == label for item in items) / len(items)


def _answer(label: str, score: float, language: str = "en") -> Prediction:
    other = "negative" if label == "positive" else "positive"
    return Prediction(label, score, {label: score, other: round(1 - score, 6)}, language)


def _abstention(reason: str = NO_EVIDENCE, language: str = "und") -> Prediction:
    return Prediction(None, None, None, language, Abstention(reason, "no answer"))


# -- the sets ----------------------------------------------------------------------------------


def test_the_folder_holds_exactly_the_sets_the_benchmark_reads():
    assert sorted(path.stem for path in SETS_FOLDER.glob("*.jsonl")) == sorted(SET_NAMES)


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_line_is_a_json_object_with_exactly_the_set_fields(name):
    lines = (SETS_FOLDER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        item = json.loads(line)
        assert isinstance(item, dict), f"{name}.jsonl line {number}"
        assert set(item) == FIELDS[name], f"{name}.jsonl line {number}"
        assert all(isinstance(value, str) for value in item.values()), f"{name}.jsonl line {number}"


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_set_has_at_least_its_minimum_size(name):
    assert len(read_set(name)) >= MINIMUM_SIZES[name]


@pytest.mark.parametrize("name", SET_NAMES)
def test_no_text_is_empty_or_only_white_space(name):
    assert all(item["text"].strip() for item in read_set(name))


@pytest.mark.parametrize("name", [name for name, fields in FIELDS.items() if "label" in fields])
def test_labels_are_negative_or_positive(name):
    assert {item["label"] for item in read_set(name)} <= LABELS


def test_no_text_repeats_within_or_across_sets_ignoring_case_and_spacing():
    keys = Counter(" ".join(item["text"].casefold().split()) for items in _sets().values() for item in items)
    assert [key for key, count in keys.items() if count > 1] == []


def test_no_worded_text_repeats_ignoring_punctuation_too():
    keys = Counter(re.sub(r"[\W_]+", "", text.casefold()) for _, text in _texts_with_words())
    assert [key for key, count in keys.items() if count > 1] == []


def test_short_opinion_categories_have_their_sizes():
    counts = Counter(item["category"] for item in read_set(SHORT_OPINIONS))
    assert set(counts) == set(SHORT_OPINION_CATEGORIES)
    for category, minimum in MINIMUM_CATEGORY_SIZES.items():
        assert counts[category] >= minimum, category


def test_a_negated_positive_word_means_negative_and_a_negated_negative_word_positive():
    items = read_set(SHORT_OPINIONS)
    assert {item["label"] for item in items if item["category"] == "negated_positive"} == {"negative"}
    assert {item["label"] for item in items if item["category"] == "negated_negative"} == {"positive"}


@pytest.mark.parametrize("category", ["plain", "contrast"])
def test_plain_and_contrast_opinions_have_balanced_labels(category):
    items = [item for item in read_set(SHORT_OPINIONS) if item["category"] == category]
    assert 0.45 <= _label_share(items) <= 0.55


def test_short_opinions_have_balanced_labels_overall():
    assert 0.45 <= _label_share(read_set(SHORT_OPINIONS)) <= 0.55


def test_short_opinions_are_short():
    assert all(len(split_sentences(item["text"])) <= 2 for item in read_set(SHORT_OPINIONS))


def test_ood_reviews_have_balanced_labels():
    assert 0.45 <= _label_share(read_set(OOD_SHORT_REVIEWS)) <= 0.55


def test_ood_reviews_are_of_one_to_three_sentences():
    assert all(1 <= len(split_sentences(item["text"])) <= 3 for item in read_set(OOD_SHORT_REVIEWS))


def test_ood_reviews_span_many_domains_and_none_is_movies():
    domains = Counter(item["domain"] for item in read_set(OOD_SHORT_REVIEWS))
    assert len(domains) >= 10
    assert not set(domains) & MOVIE_DOMAINS


def test_other_languages_cover_the_required_languages_with_about_twenty_each():
    counts = Counter(item["language"] for item in read_set(OTHER_LANGUAGES))
    assert set(counts) >= REQUIRED_LANGUAGES
    assert "en" not in counts
    assert all(re.fullmatch(r"[a-z]{2}", language) for language in counts)
    assert min(counts.values()) >= 18


def test_other_languages_have_balanced_labels_in_every_language():
    items = read_set(OTHER_LANGUAGES)
    for language in {item["language"] for item in items}:
        assert _label_share([item for item in items if item["language"] == language]) == 0.5, language


def test_other_languages_are_written_in_their_own_script():
    scripts = {"ru": "CYRILLIC", "ar": "ARABIC", "ko": "HANGUL", "zh": "CJK", "ja": ("HIRAGANA", "KATAKANA", "CJK")}
    for item in read_set(OTHER_LANGUAGES):
        letters = [unicodedata.name(char, "") for char in item["text"] if char.isalpha()]
        expected = scripts.get(item["language"], "LATIN")
        assert all(name.startswith(expected) for name in letters), item["text"]


def test_very_short_english_texts_have_one_to_three_words():
    assert all(1 <= len(item["text"].split()) <= 3 for item in read_set(VERY_SHORT_ENGLISH))


def test_no_evidence_strings_share_no_word_with_the_other_sets():
    vocabulary = {word for _, text in _texts_with_words() for word in re.findall(r"[^\W\d_]+", text.casefold())}
    for item in read_set(NO_EVIDENCE_STRINGS):
        letters = re.findall(r"[^\W\d_]{2,}", item["text"].casefold())
        assert not set(letters) & vocabulary, item["text"]


def test_no_evidence_strings_hold_no_emoji():
    for item in read_set(NO_EVIDENCE_STRINGS):
        assert not any(ord(char) >= 0x2600 for char in item["text"]), item["text"]


def test_the_readme_gives_each_set_its_true_size():
    readme = (SETS_FOLDER / "README.md").read_text(encoding="utf-8")
    for name, items in _sets().items():
        assert re.search(rf"^\| `{name}\.jsonl` \| {len(items)} \|", readme, re.MULTILINE), name


def test_no_training_or_serving_code_reads_the_sets():
    for package in ("model_build", "functions"):
        for path in (REPOSITORY / package).rglob("*.py"):
            assert "quality_sets" not in path.read_text(encoding="utf-8"), path


# -- the metrics -------------------------------------------------------------------------------


def test_accuracy_counts_an_abstention_as_not_right():
    predictions = [_answer("positive", 0.9), _answer("negative", 0.8), _abstention(), _answer("negative", 0.7)]
    assert accuracy(predictions, ["positive", "negative", "positive", "positive"]) == 0.5


def test_accuracy_of_no_items_is_zero():
    assert accuracy([], []) == 0.0


def test_answered_and_abstained_shares_add_up_and_abstentions_split_by_reason():
    predictions = [
        _answer("positive", 0.9),
        _abstention(NO_EVIDENCE),
        _abstention(UNSUPPORTED_LANGUAGE, "de"),
        _answer("negative", 0.6),
    ]
    assert answered_share(predictions) == 0.5
    assert abstained_share(predictions) == 0.5
    assert abstained_share(predictions, NO_EVIDENCE) == 0.25


def test_the_share_of_overconfident_answers_leaves_abstentions_out():
    predictions = [_answer("positive", 0.9995), _answer("negative", 0.98), _abstention(), _abstention()]
    assert share_of_answers_at_least(predictions, 0.999) == 0.5


def test_mean_answered_score_leaves_abstentions_out_and_is_zero_when_all_abstain():
    assert mean_answered_score([_answer("positive", 0.9), _answer("negative", 0.6), _abstention()]) == pytest.approx(
        0.75
    )
    assert mean_answered_score([_abstention(), _abstention()]) == 0.0


def test_calibration_error_is_over_answered_items_only():
    right_and_sure = [_answer("positive", 1.0), _answer("negative", 1.0)]
    assert calibration_error([*right_and_sure, _abstention()], ["positive", "negative", "negative"]) == 0.0
    assert calibration_error([_answer("positive", 0.9)], ["negative"]) == pytest.approx(0.9)


def test_other_languages_count_as_handled_when_abstained_or_answered_right_in_a_trained_language():
    predictions = [
        _abstention(UNSUPPORTED_LANGUAGE, "de"),  # not trained on: abstaining is right
        _answer("positive", 0.7, "fr"),  # not trained on: answering is not, even with the right label
        _answer("negative", 0.8, "es"),  # trained on and right
        _answer("negative", 0.8, "es"),  # trained on and wrong
        _abstention(NO_EVIDENCE, "es"),  # trained on: abstaining is not right
    ]
    labels = ["positive", "positive", "negative", "positive", "negative"]
    languages = ["de", "fr", "es", "es", "es"]
    assert abstained_or_right_share(predictions, labels, languages, supported=["en", "es"]) == pytest.approx(0.4)


def test_confident_wrong_answers_are_counted_at_or_above_the_score_only():
    predictions = [
        _answer("positive", 0.95),
        _answer("positive", 0.9),
        _answer("positive", 0.89),
        _answer("negative", 0.99),
        _abstention(),
    ]
    assert confident_wrong_count(predictions, ["negative"] * 5, score=0.9) == 2


def test_the_share_taken_for_another_language_counts_refusals_and_foreign_detections():
    predictions = [
        _abstention(UNSUPPORTED_LANGUAGE, "de"),
        _answer("positive", 0.8, "nl"),
        _answer("positive", 0.8, "en"),
        _answer("positive", 0.8, "und"),
        _abstention(NO_EVIDENCE, "und"),
    ]
    assert taken_for_other_language_share(predictions) == pytest.approx(0.4)


def test_a_stratified_sample_keeps_each_label_share_and_is_seeded():
    labels = np.array([0] * 300 + [1] * 100)
    sample = stratified_sample(labels, 100, seed=3)
    assert len(sample) == 100 and (labels[sample] == 1).sum() == 25
    assert np.array_equal(sample, stratified_sample(labels, 100, seed=3))
    assert not np.array_equal(sample, stratified_sample(labels, 100, seed=4))


def test_a_sample_larger_than_the_split_is_the_whole_split():
    assert np.array_equal(stratified_sample(np.array([0, 1, 1]), 10, seed=0), np.arange(3))


def test_last_sentences_keep_each_text_label_and_skip_texts_without_one():
    texts, labels = last_sentences(
        ["Fine start. Awful end!", "  ", "One line only"], ["negative", "positive", "positive"]
    )
    assert (texts, labels) == (["Awful end!", "One line only"], ["negative", "positive"])


def test_targets_compare_as_they_read():
    assert Target(">=", 0.85).met_by(0.85) and not Target(">=", 0.85).met_by(0.8499)
    assert Target("<", 0.1).met_by(0.0999) and not Target("<", 0.1).met_by(0.1)
    assert Target("==", 0).met_by(0) and not Target("==", 0).met_by(1)


def test_the_table_aligns_its_columns_and_marks_pass_and_fail():
    measures = [
        Measure("a", "a long measure name", 0.9, 446, Target(">=", 0.85)),
        Measure("b", "short", 2, 280, Target("==", 0)),
        Measure("c", "no target", 0.5, 7),
    ]
    lines = render_table(measures).splitlines()
    assert lines[2].endswith("PASS") and lines[3].endswith("FAIL") and lines[4].endswith("0.5000")
    value_end = lines[0].index("value") + len("value")
    assert [line[:value_end].split()[-1] for line in lines[2:]] == ["0.9000", "2", "0.5000"]


def _scored_set(name: str, true_scale: float, seed: int, size: int = 4000) -> ScoredSet:
    """Texts whose labels follow softmax(logits * true_scale): a set the model's raw logits
    under- (scale > 1) or over-state (scale < 1) by that factor."""
    generator = np.random.default_rng(seed)
    margins = generator.normal(0.0, 2.0, size)
    labels = (generator.random(size) < 1.0 / (1.0 + np.exp(-true_scale * margins))).astype(np.int64)
    logits = np.stack([np.zeros(size), margins], axis=1)
    counts = generator.integers(100, 400, size)  # longer than any text the lexicon reads
    return ScoredSet(name, logits, counts, np.zeros(size), labels)


def test_the_calibration_frontier_refits_on_each_set_and_on_both():
    # GIVEN two sets whose raw logits are right for one and a third of the truth for the other
    plain, understated = _scored_set("plain", 1.0, seed=1), _scored_set("understated", 3.0, seed=2)
    served = Calibration()  # the raw logits as they are

    rows = calibration_frontier(served, [plain, understated])

    assert [row.fitted_on for row in rows] == [SERVED_CALIBRATION, "plain", "understated", "plain + understated"]
    by_name = {row.fitted_on: row for row in rows}
    # THEN a refit on one set calibrates that set and recovers its scale ...
    assert by_name["plain"].errors["plain"] < 0.03
    assert 0.8 < np.median(by_name["plain"].calibration.scales(plain.counts)) < 1.25
    assert 2.4 < np.median(by_name["understated"].calibration.scales(understated.counts)) < 3.75
    assert by_name["understated"].errors["understated"] < 0.03
    assert by_name["understated"].errors["understated"] < rows[0].errors["understated"] - 0.05
    # ... and leaves the other set as far off as the two differ
    assert by_name["plain"].errors["understated"] > 0.08 and by_name["understated"].errors["plain"] > 0.08
    # AND the joint fit lies between: neither set as well calibrated as by its own fit
    joint = by_name["plain + understated"]
    for name in ("plain", "understated"):
        assert by_name[name].errors[name] < joint.errors[name] < max(row.errors[name] for row in rows[1:3])
    assert rows[0].calibration is served


def test_the_frontier_table_names_every_set_and_refit():
    rows = calibration_frontier(Calibration(), [_scored_set("a", 1.0, seed=3, size=500)])
    lines = render_frontier(rows).splitlines()
    assert "ECE a" in lines[0] and len(lines) == 2 + 2  # header, rule, served, refit on "a"
    assert lines[2].startswith(SERVED_CALIBRATION) and lines[3].startswith("a ")
