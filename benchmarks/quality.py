"""How far the served model's answers can be trusted: accuracy, calibration and abstention on
hand-written evaluation sets and on the IMDB test split, as one table of measures and targets.

    python -m benchmarks.quality --models artifacts/models        (make bench-quality)
    python -m benchmarks.quality --models artifacts/models --calibration-frontier

The sets are the JSON-lines files of ``benchmarks/quality_sets/`` (its README.md says what
each holds and how it was written); they are for evaluation only and never trained or tuned
on. The model is the bundle that ``current.json`` of ``--models`` names (or ``--version``),
loaded by serving's own runner (`functions.sentiment_model.SentimentModel`), so the figures
are those of the answers the service gives: an abstention counts as not right in every
accuracy, and calibration (ECE) is measured over the answered items only.

``--calibration-frontier`` adds a diagnostic, never a figure of the service: the bundle's
calibration (a temperature that depends on the n-gram count, and VADER's weight on short text)
refitted on the out-of-domain short reviews, on the IMDB test reviews' last sentences, and on both,
with the ECE each refit reaches on each set. It shows how far any such calibration of this model
could bring the two short-text ECEs at once: when even a fit on both sets themselves leaves one
above its target, the model's logits do not tell those texts apart, and no calibration will.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import operator
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from functions.sentiment_model import (
    NO_EVIDENCE,
    UNDETERMINED_LANGUAGE,
    UNSUPPORTED_LANGUAGE,
    Prediction,
    SentimentModel,
    function_vcpus,
)
from model_build.bundle import POINTER_FILE, BundleError, Pointer
from model_build.calibration import LEXICON_MAX_NGRAMS, expected_calibration_error, fit_calibration
from model_build.crops import split_sentences
from model_build.data import DataSourceError, default_source, load_imdb
from model_build.lexicon import short_text_scores
from model_build.preprocess import DEFAULT_LABELS, Calibration

SETS_FOLDER = Path(__file__).with_name("quality_sets")
SHORT_OPINIONS = "short_opinions"
NEUTRAL_FACTS = "neutral_facts"
OOD_SHORT_REVIEWS = "ood_short_reviews"
OTHER_LANGUAGES = "other_languages"
VERY_SHORT_ENGLISH = "very_short_english"
NO_EVIDENCE_STRINGS = "no_evidence"
SET_NAMES = (SHORT_OPINIONS, NEUTRAL_FACTS, OOD_SHORT_REVIEWS, OTHER_LANGUAGES, VERY_SHORT_ENGLISH, NO_EVIDENCE_STRINGS)
SHORT_OPINION_CATEGORIES = ("plain", "negated_positive", "negated_negative", "contrast")
NEGATED_CATEGORIES = ("negated_positive", "negated_negative")

CLASSIFY_BATCH = 256  # texts per `SentimentModel.classify` call
OVERCONFIDENT_SCORE = 0.999  # a short opinion hardly ever deserves more
CONFIDENT_SCORE = 0.9  # a wrong answer this sure, on a language the model never saw, is a defect
ENGLISH = "en"
DEFAULT_SUPPORTED_LANGUAGES = (ENGLISH,)


# -- measures and targets --------------------------------------------------------------------

COMPARISONS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, "==": operator.eq}


@dataclass(frozen=True)
class Target:
    comparison: str  # a key of COMPARISONS
    bound: float

    def met_by(self, value: float) -> bool:
        return bool(COMPARISONS[self.comparison](value, self.bound))

    def __str__(self) -> str:
        return f"{self.comparison} {self.bound:g}"


@dataclass(frozen=True)
class Measure:
    key: str  # for --json: "short_opinions.accuracy"
    name: str  # for the table
    value: float  # a share, or an int where it counts items
    count: int  # the items it was measured on
    target: Target | None = None

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met_by(self.value)

    def formatted_value(self) -> str:
        return str(self.value) if isinstance(self.value, int) else f"{self.value:.4f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "count": self.count,
            "target": None if self.target is None else str(self.target),
            "passed": self.passed,
        }


# -- metrics: pure functions of predictions and the expected labels ---------------------------


def is_answered(prediction: Prediction) -> bool:
    return prediction.abstained is None and prediction.label is not None


def accuracy(predictions: Sequence[Prediction], labels: Sequence[str]) -> float:
    """The share answered with the expected label; an abstention is not right. 0 for no items."""
    if not predictions:
        return 0.0
    return sum(prediction.label == label for prediction, label in zip(predictions, labels)) / len(predictions)


def answered_share(predictions: Sequence[Prediction]) -> float:
    return _share(predictions, is_answered)


def abstained_share(predictions: Sequence[Prediction], reason: str | None = None) -> float:
    """The share that abstained, for ``reason`` only when one is given."""
    return _share(
        predictions,
        lambda p: p.abstained is not None and (reason is None or p.abstained.reason == reason),
    )


def share_of_answers_at_least(predictions: Sequence[Prediction], score: float) -> float:
    """Of the answers given, the share whose score is at least ``score``. 0 for no answers."""
    return _share([p for p in predictions if is_answered(p)], lambda p: p.score >= score)


def mean_answered_score(predictions: Sequence[Prediction]) -> float:
    """The mean score of the answered labels; 0 when every item abstained (nothing claimed)."""
    scores = [p.score for p in predictions if is_answered(p)]
    return float(np.mean(scores)) if scores else 0.0


def calibration_error(predictions: Sequence[Prediction], labels: Sequence[str]) -> float:
    """ECE over the answered items: their scores against whether each answer was right."""
    answered = [(p.score, p.label == label) for p, label in zip(predictions, labels) if is_answered(p)]
    confidences = [score for score, _ in answered]
    correct = [right for _, right in answered]
    return expected_calibration_error(confidences, correct)


def abstained_or_right_share(
    predictions: Sequence[Prediction], labels: Sequence[str], languages: Sequence[str], supported: Sequence[str]
) -> float:
    """The share handled as it should be: text in a language the model was trained on answered
    right, text in any other language abstained on."""
    handled = [
        prediction.label == label if language in supported else prediction.abstained is not None
        for prediction, label, language in zip(predictions, labels, languages)
    ]
    return sum(handled) / len(handled) if handled else 0.0


def confident_wrong_count(predictions: Sequence[Prediction], labels: Sequence[str], score: float) -> int:
    """Answers given with the wrong label and a score of at least ``score``."""
    return sum(is_answered(p) and p.label != label and p.score >= score for p, label in zip(predictions, labels))


def taken_for_other_language(prediction: Prediction) -> bool:
    """Refused as an unsupported language, or detected as a language other than English."""
    if prediction.abstained is not None and prediction.abstained.reason == UNSUPPORTED_LANGUAGE:
        return True
    return prediction.language not in (ENGLISH, UNDETERMINED_LANGUAGE)


def taken_for_other_language_share(predictions: Sequence[Prediction]) -> float:
    return _share(predictions, taken_for_other_language)


def _share(predictions: Sequence[Prediction], condition: Callable[[Prediction], bool]) -> float:
    return sum(condition(p) for p in predictions) / len(predictions) if predictions else 0.0


# -- the measures of each set -----------------------------------------------------------------

# (key, name, value, items measured, target) of one set's measures
MeasureRow = tuple[str, str, float, int, Target | None]


def _measures(set_name: str, title: str, rows: Sequence[MeasureRow]) -> list[Measure]:
    return [Measure(f"{set_name}.{key}", f"{title}: {name}", *rest) for key, name, *rest in rows]


def short_opinion_measures(items: Sequence[dict], predictions: Sequence[Prediction]) -> list[Measure]:
    labels = [item["label"] for item in items]
    n = len(items)

    def accuracy_of(categories: Sequence[str]) -> tuple[float, int]:
        chosen = [(p, item["label"]) for p, item in zip(predictions, items) if item["category"] in categories]
        return accuracy([p for p, _ in chosen], [label for _, label in chosen]), len(chosen)

    overconfident = share_of_answers_at_least(predictions, OVERCONFIDENT_SCORE)
    rows: list[MeasureRow] = [
        ("accuracy", "accuracy", accuracy(predictions, labels), n, Target(">=", 0.85)),
        ("answered", "share answered", answered_share(predictions), n, None),
        ("score_at_least_0.999", f"answers with score >= {OVERCONFIDENT_SCORE}", overconfident, n, Target("<", 0.1)),
        ("negated.accuracy", "negated (both kinds) accuracy", *accuracy_of(NEGATED_CATEGORIES), Target(">=", 0.80)),
    ]
    rows += [
        (f"{category}.accuracy", f"{category} accuracy", *accuracy_of([category]), None)
        for category in SHORT_OPINION_CATEGORIES
    ]
    return _measures(SHORT_OPINIONS, "short opinions", rows)


def neutral_fact_measures(items: Sequence[dict], predictions: Sequence[Prediction]) -> list[Measure]:
    n = len(items)
    rows: list[MeasureRow] = [
        ("mean_score", "mean score of the answered label", mean_answered_score(predictions), n, Target("<=", 0.75)),
        ("abstained", "share abstained", abstained_share(predictions), n, None),
    ]
    return _measures(NEUTRAL_FACTS, "neutral statements", rows)


def ood_review_measures(items: Sequence[dict], predictions: Sequence[Prediction]) -> list[Measure]:
    labels = [item["label"] for item in items]
    n = len(items)
    rows: list[MeasureRow] = [
        ("accuracy", "accuracy", accuracy(predictions, labels), n, Target(">=", 0.80)),
        ("answered", "share answered", answered_share(predictions), n, None),
        ("ece", "ECE", calibration_error(predictions, labels), n, Target("<=", 0.05)),
    ]
    return _measures(OOD_SHORT_REVIEWS, "ood short reviews", rows)


def other_language_measures(
    items: Sequence[dict], predictions: Sequence[Prediction], supported: Sequence[str]
) -> list[Measure]:
    labels = [item["label"] for item in items]
    languages = [item["language"] for item in items]
    handled = abstained_or_right_share(predictions, labels, languages, supported)
    confident_wrong = confident_wrong_count(predictions, labels, CONFIDENT_SCORE)
    n = len(items)
    rows: list[MeasureRow] = [
        ("abstained_or_right", "abstained, or right if trained on", handled, n, Target(">=", 0.90)),
        ("confident_wrong", f"wrong answers with score >= {CONFIDENT_SCORE}", confident_wrong, n, Target("==", 0)),
        ("abstained", "share abstained", abstained_share(predictions), n, None),
    ]
    return _measures(OTHER_LANGUAGES, "other languages", rows)


def very_short_english_measures(items: Sequence[dict], predictions: Sequence[Prediction]) -> list[Measure]:
    share = taken_for_other_language_share(predictions)
    rows: list[MeasureRow] = [
        ("other_language", "taken for another language", share, len(items), Target("<=", 0.125)),
    ]
    return _measures(VERY_SHORT_ENGLISH, "very short English", rows)


def no_evidence_measures(items: Sequence[dict], predictions: Sequence[Prediction]) -> list[Measure]:
    share = abstained_share(predictions, NO_EVIDENCE)
    rows: list[MeasureRow] = [
        ("abstained_no_evidence", "abstained as no_evidence", share, len(items), None),
    ]
    return _measures(NO_EVIDENCE_STRINGS, "no-evidence strings", rows)


def imdb_measures(
    labels: Sequence[str],
    predictions: Sequence[Prediction],
    sentence_labels: Sequence[str],
    sentence_predictions: Sequence[Prediction],
) -> list[Measure]:
    n, sentences = len(labels), len(sentence_labels)
    reviews: list[MeasureRow] = [
        ("accuracy", "accuracy", accuracy(predictions, labels), n, Target(">=", 0.920)),
        ("answered", "share answered", answered_share(predictions), n, None),
        ("ece", "ECE", calibration_error(predictions, labels), n, Target("<=", 0.02)),
    ]
    last: list[MeasureRow] = [
        ("accuracy", "accuracy", accuracy(sentence_predictions, sentence_labels), sentences, None),
        ("ece", "ECE", calibration_error(sentence_predictions, sentence_labels), sentences, Target("<=", 0.05)),
    ]
    return _measures("imdb_test", "IMDB test", reviews) + _measures(
        "imdb_test_last_sentences", "IMDB test last sentences", last
    )


# -- the calibration frontier (a diagnostic) ---------------------------------------------------


@dataclass(frozen=True)
class ScoredSet:
    """What a calibration is fitted on and judged by: a set's uncalibrated logits, n-gram counts,
    VADER scores (read for the short texts only) and label indices."""

    name: str
    logits: np.ndarray
    counts: np.ndarray
    compound: np.ndarray
    labels: np.ndarray

    def expected_calibration_error(self, calibration: Calibration) -> float:
        probabilities = calibration.probabilities(self.logits, self.counts, self.compound)
        return expected_calibration_error(probabilities.max(axis=1), probabilities.argmax(axis=1) == self.labels)


@dataclass(frozen=True)
class FrontierRow:
    fitted_on: str
    calibration: Calibration
    errors: dict[str, float]  # set name -> ECE


SERVED_CALIBRATION = "served (fitted on held-out training data)"


def calibration_frontier(served: Calibration, sets: Sequence[ScoredSet]) -> list[FrontierRow]:
    """The ECE of every set under the ``served`` calibration and under one refitted (as training
    fits it, lexicon weight included) on each set alone and on all of them, each set weighing
    the same."""

    def row(fitted_on: str, calibration: Calibration) -> FrontierRow:
        return FrontierRow(fitted_on, calibration, {s.name: s.expected_calibration_error(calibration) for s in sets})

    rows = [row(SERVED_CALIBRATION, served)]
    choices = [[scored] for scored in sets] + ([list(sets)] if len(sets) > 1 else [])
    for chosen in choices:
        refitted = fit_calibration(
            np.concatenate([s.logits for s in chosen]),
            np.concatenate([s.counts for s in chosen]),
            np.concatenate([s.labels for s in chosen]),
            np.concatenate([np.full(len(s.labels), 1.0 / len(s.labels)) for s in chosen]),
            compound=np.concatenate([s.compound for s in chosen]),
        )
        rows.append(row(" + ".join(s.name for s in chosen), refitted))
    return rows


def scored_set(model: SentimentModel, name: str, texts: Sequence[str], labels: Sequence[str]) -> ScoredSet:
    """The texts the model answers (those it abstains on count in no ECE) as a `ScoredSet`."""
    answered = [index for index, prediction in enumerate(classify(model, texts)) if is_answered(prediction)]
    kept = [texts[index] for index in answered]
    logits, counts = model.uncalibrated(kept)
    max_ngrams = model.calibration.lexicon_max_ngrams or LEXICON_MAX_NGRAMS
    return ScoredSet(
        name,
        logits,
        counts,
        short_text_scores(kept, counts, max_ngrams),
        np.array([model.labels.index(labels[index]) for index in answered], dtype=np.int64),
    )


def render_frontier(rows: Sequence[FrontierRow]) -> str:
    names = list(rows[0].errors)
    parameters = ("log scale", "evidence power", "lexicon weight")
    header = ("calibration fitted on", *(f"ECE {name}" for name in names), *parameters)
    table = [header] + [
        (
            row.fitted_on,
            *(f"{row.errors[name]:.4f}" for name in names),
            f"{row.calibration.log_scale:.3f}",
            f"{row.calibration.evidence_power:.3f}",
            f"{row.calibration.lexicon_weight:.3f}",
        )
        for row in rows
    ]
    return aligned_table(table, right_aligned=range(1, len(header)))


# -- inputs ------------------------------------------------------------------------------------


def read_set(name: str, folder: Path = SETS_FOLDER) -> list[dict]:
    """The items of ``<folder>/<name>.jsonl``, one JSON object a line."""
    with open(folder / f"{name}.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_served_model(models: Path, version: str | None, threads: int) -> SentimentModel:
    """The bundle ``--version`` names, or else the one ``current.json`` points to."""
    if version is None:
        version = Pointer.from_json((models / POINTER_FILE).read_bytes()).version
    return SentimentModel.from_folder(models / version, threads=threads)


def supported_languages(model: SentimentModel) -> list[str]:
    """The languages the bundle's card says it was trained on (English for older cards)."""
    languages = model.card.get("languages")
    supported = languages.get("supported") if isinstance(languages, dict) else None
    return list(supported or DEFAULT_SUPPORTED_LANGUAGES)


def stratified_sample(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``limit`` items with each label's share kept; all when fewer."""
    if limit >= len(labels):
        return np.arange(len(labels))
    generator = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    picked = [
        generator.choice(np.flatnonzero(labels == label), size=int(round(limit * count / len(labels))), replace=False)
        for label, count in zip(classes, counts)
    ]
    return np.sort(np.concatenate(picked))


def last_sentences(texts: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """The last sentence of each text with its text's label; texts without a sentence left out."""
    pairs = [(sentences[-1], label) for text, label in zip(texts, labels) if (sentences := split_sentences(text))]
    return [sentence for sentence, _ in pairs], [label for _, label in pairs]


def classify(model: SentimentModel, texts: Sequence[str]) -> list[Prediction]:
    """Predictions in input order, asked for `CLASSIFY_BATCH` texts at a time, texts of similar
    length together (a run costs in proportion to its longest text)."""
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    predictions: list[Prediction | None] = [None] * len(texts)
    for start in range(0, len(order), CLASSIFY_BATCH):
        rows = order[start : start + CLASSIFY_BATCH]
        for row, prediction in zip(rows, model.classify([texts[row] for row in rows])):
            predictions[row] = prediction
    return predictions


# -- the run -----------------------------------------------------------------------------------


@contextmanager
def timed(part: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[part] = time.perf_counter() - started
    print(f"{part}: {timings[part]:.1f} s", file=sys.stderr, flush=True)


def set_measures(model: SentimentModel, timings: dict[str, float]) -> list[Measure]:
    sets = {name: read_set(name) for name in SET_NAMES}
    _check_labels(model, [item["label"] for items in sets.values() for item in items if "label" in item])
    measures_of = {
        SHORT_OPINIONS: short_opinion_measures,
        NEUTRAL_FACTS: neutral_fact_measures,
        OOD_SHORT_REVIEWS: ood_review_measures,
        OTHER_LANGUAGES: partial(other_language_measures, supported=supported_languages(model)),
        VERY_SHORT_ENGLISH: very_short_english_measures,
        NO_EVIDENCE_STRINGS: no_evidence_measures,
    }
    measures = []
    for name, items in sets.items():
        with timed(f"{name} ({len(items)} texts)", timings):
            measures += measures_of[name](items, classify(model, [item["text"] for item in items]))
    return measures


@dataclass(frozen=True)
class ImdbTest:
    texts: list[str]
    labels: list[str]
    sentences: list[str]  # the last sentence of each review that has one
    sentence_labels: list[str]


def read_imdb_test(source: str, limit: int | None, seed: int, timings: dict[str, float]) -> ImdbTest:
    with timed("read IMDB", timings):
        dataset = load_imdb(source, progress=False)
        test = dataset.test
        if limit is not None:
            test = test.subset(stratified_sample(test.labels, limit, seed))
        labels = [dataset.labels[label] for label in test.labels.tolist()]
        return ImdbTest(test.texts, labels, *last_sentences(test.texts, labels))


def imdb_test_measures(model: SentimentModel, test: ImdbTest, timings: dict[str, float]) -> list[Measure]:
    _check_labels(model, DEFAULT_LABELS)
    with timed(f"IMDB test ({len(test.texts)} reviews)", timings):
        predictions = classify(model, test.texts)
    with timed(f"IMDB test last sentences ({len(test.sentences)})", timings):
        sentence_predictions = classify(model, test.sentences)
    return imdb_measures(test.labels, predictions, test.sentence_labels, sentence_predictions)


def frontier_rows(model: SentimentModel, test: ImdbTest, timings: dict[str, float]) -> list[FrontierRow]:
    """`calibration_frontier` of the out-of-domain short reviews and the IMDB test's last sentences."""
    with timed("calibration frontier", timings):
        reviews = read_set(OOD_SHORT_REVIEWS)
        sets = [
            scored_set(model, "ood short reviews", [i["text"] for i in reviews], [i["label"] for i in reviews]),
            scored_set(model, "IMDB test last sentences", test.sentences, test.sentence_labels),
        ]
        return calibration_frontier(model.calibration, sets)


def _check_labels(model: SentimentModel, labels: Sequence[str]) -> None:
    unknown = sorted(set(labels) - set(model.labels))
    if unknown:
        raise BundleError(f"the model's labels {list(model.labels)} lack {unknown}: these sets do not apply to it")


def render_table(measures: Sequence[Measure]) -> str:
    """Plain text, one row per measure, columns aligned."""
    rows = [("measure", "n", "value", "target", "result")]
    for measure in measures:
        result = "" if measure.passed is None else ("PASS" if measure.passed else "FAIL")
        target = "" if measure.target is None else str(measure.target)
        rows.append((measure.name, str(measure.count), measure.formatted_value(), target, result))
    return aligned_table(rows, right_aligned=range(1, 4))


def aligned_table(rows: Sequence[Sequence[str]], right_aligned: range) -> str:
    """``rows`` (the first a header) as plain text: each column as wide as its widest cell, those
    in ``right_aligned`` flush right, the others flush left, and a rule under the header."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def results_json(version: str, measures: Sequence[Measure], timings: dict[str, float]) -> dict[str, Any]:
    targeted = [measure for measure in measures if measure.target is not None]
    return {
        "version": version,
        "measures": {measure.key: measure.to_dict() for measure in measures},
        "targets_met": sum(bool(measure.passed) for measure in targeted),
        "targets": len(targeted),
        "timings_s": timings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--models", type=Path, required=True, help="the model store: <version>/ folders, current.json")
    parser.add_argument("--version", help="the bundle to measure (default: the one current.json names)")
    parser.add_argument("--data", default=default_source(), help="the IMDB source (tarball, folder or URL)")
    parser.add_argument("--imdb-limit", type=int, help="a stratified sample of this many test reviews (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --imdb-limit sample")
    parser.add_argument("--threads", type=int, default=function_vcpus(), help="onnxruntime threads")
    parser.add_argument("--json", type=Path, help="also write every measure to this JSON file")
    parser.add_argument(
        "--calibration-frontier",
        action="store_true",
        help="also refit the calibration on the out-of-domain short reviews, on the IMDB test's last sentences and "
        "on both, and print each refit's ECE on each set (a diagnostic: what any calibration of this model could "
        "reach; the service's calibration is fitted on held-out training data only)",
    )
    args = parser.parse_args(argv)
    if args.imdb_limit is not None and args.imdb_limit < 1:
        parser.error("--imdb-limit must be at least 1")

    timings: dict[str, float] = {}
    try:
        with timed("load model", timings):
            model = load_served_model(args.models, args.version, args.threads)
        measures = set_measures(model, timings)
        test = read_imdb_test(args.data, args.imdb_limit, args.seed, timings)
        measures += imdb_test_measures(model, test, timings)
        frontier = frontier_rows(model, test, timings) if args.calibration_frontier else None
    except (OSError, BundleError, DataSourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    targeted = [measure for measure in measures if measure.target is not None]
    print(f"model {model.version} (training languages: {', '.join(supported_languages(model))})")
    print(render_table(measures))
    print(f"{sum(bool(m.passed) for m in targeted)} of {len(targeted)} targets met")
    if frontier is not None:
        print(
            "\ncalibration frontier (a diagnostic: refitted on these evaluation sets themselves; the service never is)"
        )
        print(render_frontier(frontier))
    print("timings: " + ", ".join(f"{part} {seconds:.1f} s" for part, seconds in timings.items()))
    if args.json:
        results = results_json(model.version, measures, timings)
        if frontier is not None:
            results["calibration_frontier"] = [
                {"fitted_on": row.fitted_on, "calibration": dataclasses.asdict(row.calibration), "ece": row.errors}
                for row in frontier
            ]
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
