"""One loaded model bundle: the int8 ONNX session and the preprocessing it was trained with."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from functions.language import UNDETERMINED, LanguageGuess, language_identifier
from model_build import bundle
from model_build.bundle import BundleError
from model_build.lexicon import compound_scores, lexicon_scores
from model_build.preprocess import UNKNOWN_ID, Calibration, PreprocessConfigError, Preprocessor, pad

# A session run costs in proportion to its padded [texts, longest] input, so several texts
# are cut into runs of similar length, each of at most this many ids (and BATCH_SIZE texts).
MAX_BATCH_IDS = 32_768
BATCH_SIZE = 256
PROBABILITY_DIGITS = 6
# A text of at least this many n-grams that hold a word, of which at least this share has a row
# in the vocabulary, is in the language the model was trained in (when there is one): no
# identifier needs to read it. A review in the training language has over half of its n-grams
# known, one in another language far fewer (README, Languages, gives the figures).
TRAINING_LANGUAGE_NGRAMS = 64
TRAINING_LANGUAGE_KNOWN_SHARE = 0.45
EXPLANATION_TERMS = 10  # the n-grams an explanation lists, largest weights first
WEIGHT_DIGITS = 4


# Why a prediction abstains (DESIGN.md, Predictions).
UNSUPPORTED_LANGUAGE = "unsupported_language"
NO_EVIDENCE = "no_evidence"
ABSTENTION_REASONS = (UNSUPPORTED_LANGUAGE, NO_EVIDENCE)
UNDETERMINED_LANGUAGE = UNDETERMINED  # the language of a text with no letters


@dataclass(frozen=True)
class Abstention:
    reason: str  # one of ABSTENTION_REASONS
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class ExplanationTerm:
    text: str  # the n-gram, its words separated by spaces
    weight: float  # its share of the logit of the answered label against the others

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "weight": self.weight}


@dataclass(frozen=True)
class Prediction:
    """The prediction object of DESIGN.md: a label with calibrated probabilities, or an abstention."""

    label: str | None  # None when the model abstains
    score: float | None  # the probability of `label`
    probabilities: dict[str, float] | None
    language: str  # ISO 639-1, or UNDETERMINED_LANGUAGE
    abstained: Abstention | None = None
    explanation: list[ExplanationTerm] | None = None  # only when asked for

    def to_dict(self) -> dict[str, Any]:
        result = {
            "label": self.label,
            "score": self.score,
            "probabilities": self.probabilities,
            "language": self.language,
            "abstained": None if self.abstained is None else self.abstained.to_dict(),
        }
        if self.explanation is not None:
            result["explanation"] = [term.to_dict() for term in self.explanation]
        return result


@dataclass(frozen=True)
class PredictionLines:
    """Predictions of many texts as uploads write them: one JSON object per text, and what the
    upload summary counts."""

    labels: list[str | None]  # None where the model abstained
    languages: list[str]
    abstentions: list[str | None]  # the reason, where it abstained
    objects: list[str]  # ``json.dumps(prediction.to_dict(), ensure_ascii=False)`` of each


def function_vcpus() -> int:
    """The vCPUs this process may use (Lambda: proportional to the function's memory)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Spinning worker threads burn the vCPU that the Python thread needs between runs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class SentimentModel:
    """Classifies texts with one bundle; safe to share across invocations."""

    def __init__(self, *, version: str, card: dict[str, Any], session: onnxruntime.InferenceSession,
                 preprocessor: Preprocessor) -> None:  # fmt: skip
        self.version = version
        self.card = card
        self.labels = preprocessor.config.labels
        self._session = session
        self._preprocessor = preprocessor
        self._input = preprocessor.config.input_name
        self._output = [preprocessor.config.output_name]
        self._ngram_output = preprocessor.config.ngram_output_name
        self._calibration = preprocessor.config.calibration
        # the languages the model answers in (the card's, measured on its training data)
        self.supported_languages = frozenset(card.get("languages", {}).get("supported", DEFAULT_SUPPORTED_LANGUAGES))
        # what a text mostly made of the vocabulary's n-grams is in: the one training language
        self._vocabulary_language = None
        if preprocessor.config.vocabulary is not None and len(self.supported_languages) == 1:
            self._vocabulary_language = LanguageGuess(next(iter(self.supported_languages)), 1.0, True)
        # the JSON of a Prediction, as a template: uploads write one per line
        label_names = [json.dumps(label, ensure_ascii=False) for label in self.labels]
        self._json_head = [f'{{"label": {name}, "score": ' for name in label_names]
        escaped = [name.replace("{", "{{").replace("}", "}}") for name in label_names]  # for str.format
        self._json_probabilities = ', "probabilities": {{' + ", ".join(f"{name}: {{}}" for name in escaped) + "}}"
        self._check_signature()

    @classmethod
    def load(cls, model_path: Path, preprocessor: Preprocessor, card: dict[str, Any], threads: int) -> SentimentModel:
        try:
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own families for a bad graph
            raise BundleError(f"onnxruntime cannot load the model of {card['version']}: {error}") from None
        return cls(version=card["version"], card=card, session=session, preprocessor=preprocessor)

    @classmethod
    def from_folder(cls, folder: Path, *, threads: int = 1, model_file: str | None = None) -> SentimentModel:
        """The bundle written to ``folder`` (``<store>/<version>/``), every file checked against
        its card; ``model_file`` picks another graph of it (``model.fp32.onnx``)."""
        folder = Path(folder)
        card = bundle.parse_card((folder / bundle.CARD_FILE).read_bytes())
        preprocess_data = (folder / bundle.PREPROCESS_FILE).read_bytes()
        bundle.verify_file(card, bundle.PREPROCESS_FILE, preprocess_data)
        model_path = folder / (model_file or bundle.MODEL_FILE)
        bundle.verify_file(card, model_path.name, model_path)
        try:
            preprocessor = Preprocessor.from_json(preprocess_data)
        except PreprocessConfigError as error:
            raise BundleError(str(error)) from None
        return cls.load(model_path, preprocessor, card, threads)

    def _check_signature(self) -> None:
        inputs = {node.name for node in self._session.get_inputs()}
        outputs = {node.name: node.shape for node in self._session.get_outputs()}
        if self._input not in inputs or self._output[0] not in outputs:
            raise BundleError(
                f"the model of {self.version} does not have the input {self._input!r} "
                f"and the output {self._output[0]!r} that preprocess.json names"
            )
        classes = outputs[self._output[0]][-1]
        if isinstance(classes, int) and classes != len(self.labels):
            raise BundleError(f"the model of {self.version} has {classes} outputs for {len(self.labels)} labels")
        # one run now: a graph that loads but cannot run is refused before it serves (VADER, no
        # part of the graph, loads when a short text first needs it: a cold start need not wait)
        try:
            self._analyse(["warm up"], languages=False, lexicon=False)
        except Exception as error:
            raise BundleError(f"the model of {self.version} cannot run: {error}") from None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), len(labels)]`` float32, in the input order, whether or not the service
        would abstain on a text (evaluation uses them)."""
        return self._analyse(texts, languages=False).probabilities

    def _analyse(self, texts: Sequence[str], *, languages: bool = True, lexicon: bool = True) -> _Analysis:
        """Calibrated probabilities, languages and abstentions of ``texts``; without ``languages``
        (evaluation) no language is identified and only a lack of evidence abstains; without
        ``lexicon`` (the warm-up run) VADER's score is left out."""
        encoded, evidence, worded = self._preprocessor.encode_with_evidence(texts)
        counts = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        logits = self._logits(encoded, counts)
        compound = lexicon_scores(self._calibration, texts, counts) if lexicon else None
        probabilities = self._calibration.probabilities(logits, counts, compound)
        guesses = self._languages(texts, evidence, worded) if languages else [_NOT_IDENTIFIED] * len(texts)
        # a guess the identifier is not sure of is no detected language, unless it is one the model knows
        languages = [
            guess.language if guess.confident or guess.language in self.supported_languages else UNDETERMINED_LANGUAGE
            for guess in guesses
        ]
        abstentions = [
            _unsupported(guess.language) if guess.confident and guess.language not in self.supported_languages
            else None if known else _NO_EVIDENCE
            for guess, known in zip(guesses, evidence.tolist())
        ]  # fmt: skip
        return _Analysis(probabilities, languages, abstentions, encoded, compound)

    @property
    def calibration(self) -> Calibration:
        """What turns the graph's logits into the served probabilities (`uncalibrated`)."""
        return self._calibration

    def uncalibrated(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The graph's logits of ``texts`` (``[len(texts), len(labels)]`` float32), before the
        calibration, and the n-gram count of each (int64): what `Calibration` is fitted and applied
        to (``make bench-quality --calibration-frontier`` refits it)."""
        encoded = self._preprocessor.encode_many(texts)
        counts = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return self._logits(encoded, counts), counts

    def _logits(self, encoded: list[np.ndarray], counts: np.ndarray) -> np.ndarray:
        if len(encoded) == 1:
            return self._run(pad(encoded))
        logits = np.empty((len(encoded), len(self.labels)), dtype=np.float32)
        for rows in _similar_length_batches(counts.tolist()):
            logits[rows] = self._run(pad([encoded[row] for row in rows]))
        return logits

    def _languages(self, texts: Sequence[str], evidence: np.ndarray, worded: np.ndarray) -> list[LanguageGuess]:
        """The language of each text: the training language's where the vocabulary knows most
        of a long text's n-grams (`in_training_language`), the identifier's elsewhere."""
        if self._vocabulary_language is None:
            return language_identifier().identify_many(texts)
        known = in_training_language(evidence, worded)
        if known.all():
            return [self._vocabulary_language] * len(texts)
        rest = iter(language_identifier().identify_many([text for text, k in zip(texts, known.tolist()) if not k]))
        return [self._vocabulary_language if k else next(rest) for k in known.tolist()]

    def _run(self, ids: np.ndarray) -> np.ndarray:
        return self._session.run(self._output, {self._input: ids})[0]

    def explain(
        self, text: str, label: str, ids: np.ndarray | None = None, compound: float | None = None
    ) -> list[ExplanationTerm]:
        """Every n-gram of ``text`` with its exact share of the calibrated logit of ``label``
        against the mean of the other labels' (largest magnitude first), and for a short text
        the share of VADER's score (`LEXICON_TERM`): with the bias of the model (`logit_bias`),
        they sum to that difference. Empty for a model whose graph has no
        per-n-gram output (the LSTM: its logits are no sum over n-grams). ``ids`` and ``compound``
        (VADER's score) are the text's, when the caller has them already."""
        if self._ngram_output is None:
            return []
        ids = self._preprocessor.encode(text) if ids is None else ids
        if not len(ids):
            return []
        _, ngram_logits = self._session.run([self._output[0], self._ngram_output], {self._input: pad([ids])})
        target = self.labels.index(label)
        per_ngram = ngram_logits[0, : len(ids)].astype(np.float64)
        others = np.delete(per_ngram, target, axis=1).mean(axis=1)
        scale = self._calibration.scales(np.array([len(ids)]))[0]
        weights = (per_ngram[:, target] - others) * scale / len(ids)
        distinct, where = np.unique(ids, return_inverse=True)
        summed = np.zeros(len(distinct))
        np.add.at(summed, where, weights)
        names = self._preprocessor.ngram_texts(text)
        if self._preprocessor.config.vocabulary is not None:
            names[UNKNOWN_ID] = UNKNOWN_NGRAMS
        terms = [(names[int(identifier)], float(weight)) for identifier, weight in zip(distinct.tolist(), summed)]
        if self._calibration.reads_lexicon(np.array([len(ids)]))[0]:  # VADER's score is a term of the logit too
            if compound is None:
                compound = float(compound_scores([text])[0])
            shift = self._calibration.lexicon_shifts(np.array([compound]))[0]
            terms.append((LEXICON_TERM, float(shift[target] - np.delete(shift, target).mean())))
        order = np.argsort(-np.abs([weight for _, weight in terms]), kind="stable")
        return [ExplanationTerm(*terms[k]) for k in order.tolist()]

    def logit_bias(self, label: str, ids_count: int) -> float:
        """What the explanation of a text of ``ids_count`` ids leaves out: the model's bias, in
        the same units (calibrated logit of ``label`` against the mean of the others)."""
        bias = self._run(pad([np.zeros(0, dtype=np.int64)]))[0].astype(np.float64)
        target = self.labels.index(label)
        scale = self._calibration.scales(np.array([ids_count]))[0]
        return float((bias[target] - np.delete(bias, target).mean()) * scale)

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        """One `Prediction` per text, in input order; ``explain`` adds each one's explanation."""
        analysis = self._analyse(texts)
        rounded, best = _rounded(analysis.probabilities)
        labels = self.labels
        predictions = []
        scores = [None] * len(texts) if analysis.compound is None else analysis.compound.tolist()
        for text, ids, compound, values, index, language, abstention in zip(
            texts, analysis.encoded, scores, rounded.tolist(), best.tolist(), analysis.languages, analysis.abstentions
        ):
            explanation = None
            if explain:
                explanation = [] if abstention is not None else _shown(self.explain(text, labels[index], ids, compound))
            if abstention is None:
                predictions.append(
                    Prediction(labels[index], values[index], dict(zip(labels, values)), language, None, explanation)
                )
            else:
                predictions.append(Prediction(None, None, None, language, abstention, explanation))
        return predictions

    def classify_lines(self, texts: Sequence[str]) -> PredictionLines:
        """`classify` of many texts as JSON lines, built from a template (a test holds them equal to
        ``json.dumps`` of `Prediction.to_dict`): an upload writes one per line, and ``json.dumps``
        of a dict per line was a third of the time a line of a few words took."""
        if not texts:
            return PredictionLines([], [], [], [])
        analysis = self._analyse(texts)
        rounded, best = _rounded(analysis.probabilities)
        if not np.isfinite(rounded).all():  # a broken model: JSON has no NaN, json.dumps knows what to do
            predictions = self.classify(texts)
            return PredictionLines(
                [p.label for p in predictions],
                [p.language for p in predictions],
                [None if p.abstained is None else p.abstained.reason for p in predictions],
                [json.dumps(p.to_dict(), ensure_ascii=False) for p in predictions],
            )
        labels, heads, tail = self.labels, self._json_head, self._json_probabilities
        answered, objects = [], []
        for values, index, language, abstention in zip(
            rounded.tolist(), best.tolist(), analysis.languages, analysis.abstentions
        ):
            if abstention is None:
                answered.append(labels[index])
                # repr of a float is what json.dumps writes for it
                objects.append(
                    heads[index] + repr(values[index]) + tail.format(*map(repr, values)) + _json_language(language)
                )
            else:
                answered.append(None)
                objects.append(
                    json.dumps(Prediction(None, None, None, language, abstention).to_dict(), ensure_ascii=False)
                )
        reasons = [None if abstention is None else abstention.reason for abstention in analysis.abstentions]
        return PredictionLines(answered, analysis.languages, reasons, objects)


def in_training_language(evidence: np.ndarray, worded: np.ndarray) -> np.ndarray:
    """Which texts are long (`TRAINING_LANGUAGE_NGRAMS` n-grams that hold a word or more) and
    have at least `TRAINING_LANGUAGE_KNOWN_SHARE` of those n-grams in the vocabulary (``evidence``).
    Short texts always go to the identifier: a few known words say little of a language."""
    worded = np.asarray(worded)
    return (worded >= TRAINING_LANGUAGE_NGRAMS) & (np.asarray(evidence) >= TRAINING_LANGUAGE_KNOWN_SHARE * worded)


@dataclass(frozen=True)
class _Analysis:
    probabilities: np.ndarray  # [texts, labels], calibrated
    languages: list[str]
    abstentions: list[Abstention | None]
    encoded: list[np.ndarray]  # the ids of each text
    compound: np.ndarray | None  # VADER's score of each text that reads it (`lexicon_scores`)


UNKNOWN_NGRAMS = "(n-grams the model has no row for)"
LEXICON_TERM = "(the VADER valence lexicon's score of the whole text)"


def _shown(terms: list[ExplanationTerm]) -> list[ExplanationTerm]:
    """The `EXPLANATION_TERMS` largest, rounded, without the shared row of unknown n-grams."""
    shown = [term for term in terms if term.text != UNKNOWN_NGRAMS][:EXPLANATION_TERMS]
    return [ExplanationTerm(term.text, round(term.weight, WEIGHT_DIGITS)) for term in shown]


_NO_EVIDENCE = Abstention(NO_EVIDENCE, "the text holds nothing the model has learned from")
_NOT_IDENTIFIED = LanguageGuess(UNDETERMINED, 0.0, False)
DEFAULT_SUPPORTED_LANGUAGES = ("en",)


def _unsupported(language: str) -> Abstention:
    return Abstention(UNSUPPORTED_LANGUAGE, f"the text is in a language the model was not trained on ({language})")


def _json_language(language: str) -> str:
    return f', "language": {json.dumps(language)}, "abstained": null}}'


def _rounded(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities rounded to `PROBABILITY_DIGITS` (as float64, so that each prints short) and
    the index of each row's largest one."""
    rounded = np.round(probabilities.astype(np.float64), PROBABILITY_DIGITS)
    return rounded, rounded.argmax(axis=1)


def _similar_length_batches(lengths: list[int]) -> list[np.ndarray]:
    """Row indices, shortest texts first, cut so that no run pads beyond `MAX_BATCH_IDS`."""
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        # ascending order: the text added last is the longest of its run
        while (
            end < len(order) and end - start < BATCH_SIZE and (end - start + 1) * lengths[order[end]] <= MAX_BATCH_IDS
        ):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
