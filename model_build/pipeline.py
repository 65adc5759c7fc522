"""The training pipeline: data -> token ids -> trained model -> ONNX fp32 -> int8 -> evaluated,
gated, described and published bundle. Each step is a module of its own; this one runs them."""

from __future__ import annotations

import dataclasses
import functools
import operator
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from functions.language import UNDETERMINED, language_shares
from model_build import bundle, distillation, models
from model_build.agreement import check_agreement
from model_build.calibration import LEXICON_MAX_NGRAMS, expected_calibration_error, fit_calibration
from model_build.card import SplitSizes, build_card
from model_build.console import say
from model_build.crops import split_sentences
from model_build.data import Dataset, Split, load_imdb, split_validation
from model_build.evaluate import Evaluation, evaluate_served, evaluate_torch, length_sorted_batches, torch_logits
from model_build.export import export_onnx, quantize_int8
from model_build.labelled_data import IMBALANCE_WARNING_RATIO, Columns, class_weights, load_labelled
from model_build.lexicon import short_text_scores
from model_build.options import TrainOptions
from model_build.preprocess import DEFAULT_LABELS, Calibration, Preprocessor, pad
from model_build.quality_gate import quality_gate
from model_build.short_opinions import ShortOpinions, short_opinions
from model_build.short_text import Examples, crops, lexicon_examples
from model_build.storage import open_location
from model_build.training_loop import EncodedSplit, train_model
from model_build.vocabulary import choose_vocabulary

# `encode` hands `Preprocessor.encode_many` this many texts per call, for its progress bar.
TEXTS_PER_ENCODING = 4096


class DeviceUnavailableError(Exception):
    """The requested device cannot be used here."""


@dataclass
class TrainResult:
    version: str
    card: dict[str, Any]
    promoted: bool
    gate_passed: bool
    location: str
    model: nn.Module  # the trained torch model (CPU), for callers that compare against it


def run(options: TrainOptions) -> TrainResult:
    started = time.perf_counter()
    seed_everything(options.seed)
    device = resolve_device(options.device)
    architecture = models.load(options.arch)
    location = open_location(options.out)
    location.check_writable()  # a bad --out fails now, not after training

    dataset = load_dataset(options)
    labels = dataset.labels
    config = dataclasses.replace(options.model_config(), num_classes=len(labels))
    preprocess_config = config.preprocess_config(labels)
    train_split, validation_split = split_validation(dataset.train, options.validation_fraction, options.seed)
    say(
        f"data: {len(train_split)} train, {len(validation_split)} validation, {len(dataset.test)} test texts "
        f"(sha256 {dataset.sha256[:12]}…); device {device}"
    )
    if not dataset.is_imdb:
        describe_labelled_data(dataset, options)
    train_crops = review_crops(options, train_split.texts, train_split.labels, len(labels), seed=options.seed)
    validation_crops = review_crops(
        options, validation_split.texts, validation_split.labels, len(labels), seed=options.seed + 1
    )
    lexicon = lexicon_examples(labels, weight=options.lexicon_weight)
    say(f"short text: {len(train_crops)} crops of training reviews, {len(lexicon)} lexicon examples")
    if getattr(config, "vocabulary_size", 0):
        vocabulary = choose_vocabulary(
            Preprocessor(preprocess_config),
            train_split.texts + lexicon.texts,
            size=config.vocabulary_size,
            min_document_frequency=config.min_document_frequency,
            progress=options.progress,
        )
        preprocess_config = dataclasses.replace(preprocess_config, vocabulary=vocabulary)
        say(f"vocabulary: {len(vocabulary)} n-grams")
    preprocessor = Preprocessor(preprocess_config)

    def encoded(texts: list[str], name: str) -> list[np.ndarray]:
        return encode(preprocessor, texts, name, options.progress)

    train = EncodedSplit(encoded(train_split.texts, "train"), train_split.labels)
    for examples, name, counts in ((train_crops, "train crops", 0.0), (lexicon, "lexicon", options.lexicon_counts)):
        if len(examples):
            train = train.with_examples(encoded(examples.texts, name), examples.targets, examples.weights, counts)
    validation = EncodedSplit(encoded(validation_split.texts, "validation"), validation_split.labels)
    weights_of_labels = None
    if options.class_weights:
        per_class = class_weights(train_split.labels, len(labels))
        weights_of_labels = {label: round(float(w), 5) for label, w in zip(labels, per_class, strict=True)}
        say(
            "class weights: "
            + ", ".join(f"{label} {weight:.3f}" for label, weight in zip(labels, per_class, strict=True))
        )
        train, validation = weighted_by_class(train, per_class), weighted_by_class(validation, per_class)
    validation_pieces = EncodedSplit(
        encoded(validation_crops.texts, "validation crops"), validation_crops.targets.argmax(axis=1)
    )
    test = EncodedSplit(encoded(dataset.test.texts, "test"), dataset.test.labels)

    # calibration: fitted on what the first phase's model never saw (validation reviews, their
    # pieces and, for the default labels, generated self-contained short opinions, weighted by
    # CALIBRATION_SHARES), and applied to the final model
    opinions = calibration_opinions(options, labels)
    say(f"calibration: {len(validation)} validation reviews, {len(validation_pieces)} of their crops, "
        f"{len(opinions)} generated short opinions")  # fmt: skip
    opinion_split = EncodedSplit(encoded(opinions.texts, "opinions"), opinions.labels)
    calibration_parts = [
        (name, part, texts)
        for name, part, texts in (
            ("reviews", validation, validation_split.texts),
            ("crops", validation_pieces, validation_crops.texts),
            ("opinions", opinion_split, opinions.texts),
        )
        if len(part)
    ]
    calibration_set = functools.reduce(operator.add, (part for _, part, _ in calibration_parts))
    present_shares = sum(CALIBRATION_SHARES[name] for name, _, _ in calibration_parts)
    shares = {name: CALIBRATION_SHARES[name] / present_shares for name, _, _ in calibration_parts}
    calibration_weights = np.concatenate(
        [np.full(len(part), shares[name] / len(part)) for name, part, _ in calibration_parts]
    )
    # the texts the lexicon weight is fitted on, when it is (two default labels)
    lexicon_texts = None
    if options.short_text_lexicon and tuple(labels) == DEFAULT_LABELS:
        lexicon_texts = [text for _, _, texts in calibration_parts for text in texts]
    unlabelled = unlabelled_sample(dataset.unlabelled, options.unlabelled_reviews, options.seed)
    first_phase: dict[str, Any] = {}

    def refit_extra(selected: nn.Module) -> EncodedSplit | None:
        """The validation reviews' crops, and the teacher's examples (distillation)."""
        first_phase["calibration"] = fit_calibration_on(
            selected, calibration_set, calibration_weights, device, lexicon_texts
        )
        extra = None
        if len(validation_crops):
            extra = EncodedSplit.pieces(validation_pieces.ids, validation_crops.targets, validation_crops.weights)
        if options.distill:
            taught, first_phase["distillation"] = distillation_examples(
                selected, first_phase["calibration"], unlabelled, train_split.texts, train.ids[: len(train_split)],
                labels, options, encoded, device,
            )  # fmt: skip
            extra = taught if extra is None else extra + taught
        return extra

    trained = train_model(
        architecture, config, preprocess_config.table_rows, options, train, validation, device, refit_extra=refit_extra
    )
    model = trained.model.to("cpu")
    calibration = first_phase.get("calibration") or fit_calibration_on(
        trained.selected, calibration_set, calibration_weights, device, lexicon_texts
    )
    distillation_figures = None
    if "distillation" in first_phase:
        distillation_figures = {
            **first_phase["distillation"],
            **teacher_and_student(trained.selected, model, calibration, test, encoded, dataset.test),
        }
    preprocess_config = dataclasses.replace(preprocess_config, calibration=calibration)
    preprocessor = Preprocessor(preprocess_config)
    say(
        f"calibration: log scale {calibration.log_scale:.3f}, evidence power {calibration.evidence_power:.3f}, "
        f"lexicon weight {calibration.lexicon_weight:.3f} (texts of at most {calibration.lexicon_max_ngrams} n-grams)"
    )

    version = bundle.new_version(options.arch)
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        folder = Path(scratch)
        export_started = time.perf_counter()
        export_onnx(model, preprocess_config, folder / bundle.FP32_MODEL_FILE)
        quantize_int8(folder / bundle.FP32_MODEL_FILE, folder / bundle.MODEL_FILE)
        (folder / bundle.PREPROCESS_FILE).write_text(preprocess_config.to_json())
        export_seconds = time.perf_counter() - export_started

        def served(file: str, texts: list[str], labels: np.ndarray, description: str) -> Evaluation:
            return evaluate_served(
                folder / file,
                preprocessor,
                texts,
                labels,
                version=version,
                progress=options.progress,
                description=description,
            )

        test_texts, test_labels = dataset.test.texts, dataset.test.labels
        evaluations = {
            "torch_fp32": evaluate_torch(
                model,
                test.ids,
                test.labels,
                device=torch.device("cpu"),
                progress=options.progress,
                calibration=calibration,
                texts=test_texts,
            ),
            "onnx_fp32": served(bundle.FP32_MODEL_FILE, test_texts, test_labels, "onnx fp32"),
            "onnx_int8": served(bundle.MODEL_FILE, test_texts, test_labels, "onnx int8"),
        }
        agreement = check_agreement(evaluations["torch_fp32"], evaluations["onnx_fp32"])
        gate = quality_gate(
            evaluations["onnx_int8"],
            evaluations["onnx_fp32"],
            test_labels,
            min_accuracy=options.min_accuracy,
            min_macro_f1=options.min_macro_f1,
            max_quantization_drop=options.max_quantization_drop,
        )
        last_sentences, last_sentence_labels = last_sentences_of(test_texts, test_labels)
        calibration_figures = {
            "method": "temperature by n-gram count and, for short texts, the weight of VADER's score, fitted on "
            "held-out validation reviews, their crops and generated self-contained short opinions",
            "shares": {name: round(share, 4) for name, share in shares.items()},
            "fitted_on": {
                "validation_reviews": len(validation),
                "validation_crops": len(validation_pieces),
                "generated_opinions": len(opinions),
            },  # fmt: skip
            "parameters": dataclasses.asdict(calibration),
            "test_reviews": calibration_report(evaluations["onnx_int8"], test_labels),
            "test_last_sentences": calibration_report(
                served(bundle.MODEL_FILE, last_sentences, last_sentence_labels, "last sentences"),
                last_sentence_labels,
            ),
        }
        card = build_card(
            version=version,
            options=options,
            config=config,
            preprocess=preprocess_config,
            dataset=dataset,
            split_sizes=SplitSizes(len(train_split), len(validation_split), len(dataset.test)),
            history=trained.history,
            best_epoch=trained.best_epoch,
            evaluations=evaluations,
            agreement=agreement,
            gate=gate,
            folder=folder,
            seconds={"export_and_quantize": round(export_seconds, 2), "total": round(time.perf_counter() - started, 2)},
            calibration=calibration_figures,
            short_text={"train_crops": len(train_crops), "lexicon_examples": len(lexicon)},
            distillation=distillation_figures,
            languages=training_languages(train_split.texts, options.seed),
            class_weights=weights_of_labels,
        )
        promote = options.promote and gate.passed
        bundle.publish(location, folder, card, promote=promote)
    return TrainResult(version, card, promote, gate.passed, f"{location.url}/{version}", model)


def load_dataset(options: TrainOptions) -> Dataset:
    """The IMDB archive, or the user's labelled dataset (`model_build.labelled_data`)."""
    if not options.labelled:
        return load_imdb(
            options.data, cache_dir=options.cache_dir, expected_sha256=options.data_sha256, progress=options.progress
        )
    return load_labelled(
        options.data,
        test_source=options.test_data,
        columns=Columns(options.text_column, options.label_column),
        test_fraction=options.test_fraction,
        seed=options.seed,
        cache_dir=options.cache_dir,
        expected_sha256=options.data_sha256,
        progress=options.progress,
    )


def describe_labelled_data(dataset: Dataset, options: TrainOptions) -> None:
    """The labels, their counts, imbalance and duplicates of a labelled dataset, on the console."""
    facts = dataset.facts
    counts = facts["label_counts"]["train"]
    say(f"labels ({len(dataset.labels)}): " + ", ".join(f"{label} {count}" for label, count in counts.items()))
    ratio = facts["imbalance_ratio"]
    if ratio >= IMBALANCE_WARNING_RATIO:
        advice = "class weights are on" if options.class_weights else "--class-weights evens them in the loss"
        say(f"warning: imbalanced labels, the most common is {ratio:.1f} times as frequent as the rarest ({advice})")
    duplicates = facts["duplicates"]
    if duplicates["test_texts_also_in_train"]:
        say(
            f"warning: {duplicates['test_texts_also_in_train']} test texts also occur in the training data "
            "(the test figures are that much optimistic)"
        )
    if duplicates["within_train"]:
        say(f"note: {duplicates['within_train']} training texts repeat an earlier one")


def weighted_by_class(split: EncodedSplit, per_class: np.ndarray) -> EncodedSplit:
    """``split`` with each example's weight multiplied by its label's."""
    return dataclasses.replace(split, weights=split.example_weights() * per_class[split.labels])


# The calibration's weight of each part it is fitted on (of those present). A crop carries its
# review's label, which its own words often contradict; a generated opinion says one thing, as
# most of what users send does: half the weight goes to the opinions.
CALIBRATION_SHARES = {"reviews": 1.0, "crops": 1.0, "opinions": 2.0}


def calibration_opinions(options: TrainOptions, labels: tuple[str, ...]) -> ShortOpinions:
    """The generated short opinions the calibration reads (none for labels of a user's own)."""
    count = options.calibration_opinions if tuple(labels) == DEFAULT_LABELS else 0
    return short_opinions(count, seed=options.seed + 3)


def review_crops(options: TrainOptions, texts: list[str], labels: np.ndarray, classes: int, seed: int) -> Examples:
    return crops(
        texts,
        labels,
        classes,
        sentences_per_text=options.sentence_crops,
        windows_per_text=options.window_crops,
        window_words=options.window_words,
        smoothing=options.crop_smoothing,
        weight=options.crop_weight,
        seed=seed,
    )


def unlabelled_sample(texts: list[str], limit: int, seed: int) -> list[str]:
    """Up to ``limit`` of the unlabelled reviews, a seeded sample in file order."""
    if limit >= len(texts):
        return texts
    chosen = np.sort(np.random.default_rng(seed).permutation(len(texts))[:limit])
    return [texts[i] for i in chosen.tolist()]


def distillation_examples(
    teacher: nn.Module,
    calibration: Calibration,
    unlabelled: list[str],
    reviews: list[str],
    review_ids: list[np.ndarray],
    labels: tuple[str, ...],
    options: TrainOptions,
    encoded: Callable[[list[str], str], list[np.ndarray]],
    device: torch.device,
) -> tuple[EncodedSplit, dict[str, Any]]:
    """What the teacher labels (`model_build.distillation`): the ``unlabelled`` reviews, and new
    crops of them and of the labelled training ``reviews`` (encoded: ``review_ids``)."""
    unlabelled_ids = encoded(unlabelled, "unlabelled") if unlabelled else []
    ids = unlabelled_ids + review_ids
    probabilities = evaluate_torch(
        teacher, ids, np.zeros(len(ids), dtype=np.int64), device=device, progress=options.progress,
        description="teacher", calibration=calibration,
    ).probabilities  # fmt: skip
    taught = distillation.review_examples(probabilities[: len(unlabelled)], unlabelled, weight=options.distill_weight)
    pieces = distillation.crop_examples(
        probabilities, unlabelled + reviews, labels, sentences_per_text=options.sentence_crops,
        windows_per_text=options.window_crops, window_words=options.window_words,
        weight=options.crop_weight, seed=options.seed + 2,
    )  # fmt: skip
    say(
        f"distillation: the teacher labelled {len(unlabelled)} unlabelled reviews and {len(pieces)} crops "
        "of them and of the training reviews"
    )
    examples = EncodedSplit.pieces(encoded(pieces.texts, "teacher's crops"), pieces.targets, pieces.weights)
    if unlabelled:
        examples = EncodedSplit.pieces(unlabelled_ids, taught.targets, taught.weights) + examples
    described = {
        "teacher": distillation.TEACHER,
        "unlabelled_reviews": len(unlabelled),
        "crops": len(pieces),
        "review_weight": options.distill_weight,
        "crop_weight": options.crop_weight,
    }
    return examples, described


def teacher_and_student(
    teacher: nn.Module,
    student: nn.Module,
    calibration: Calibration,
    test: EncodedSplit,
    encoded: Callable[[list[str], str], list[np.ndarray]],
    test_split: Split,
) -> dict[str, Any]:
    """Test accuracy of the teacher's model and of the student (torch on CPU, calibrated, with
    VADER's score of short texts as served), on whole reviews and on their last sentences."""
    sentences, sentence_labels = last_sentences_of(test_split.texts, test_split.labels)
    sentence_ids = encoded(sentences, "test last sentences")
    cpu = torch.device("cpu")
    figures: dict[str, Any] = {}
    for name, model in (("teacher_model", teacher.to(cpu)), ("student", student)):
        figures[name] = {
            key: round(
                evaluate_torch(
                    model, ids, truth, device=cpu, progress=False, calibration=calibration, texts=texts
                ).accuracy,
                5,
            )
            for key, ids, truth, texts in (
                ("test_accuracy", test.ids, test.labels, test_split.texts),
                ("test_last_sentences_accuracy", sentence_ids, sentence_labels, sentences),
            )
        }
    figures["difference_points"] = {
        key: round((figures["student"][key] - figures["teacher_model"][key]) * 100, 3) for key in figures["student"]
    }
    return figures


def fit_calibration_on(
    model: nn.Module, examples: EncodedSplit, weights: np.ndarray, device: torch.device,
    texts: Sequence[str] | None = None,
) -> Calibration:  # fmt: skip
    """The calibration of ``model`` fitted on ``examples``; with their ``texts``, the weight of
    VADER's score on the short ones too."""
    logits_of = torch_logits(model, device)
    logits = np.zeros((len(examples), model.config.num_classes), dtype=np.float32)
    for indices in length_sorted_batches(examples.ids, 512):
        logits[indices] = logits_of(pad([examples.ids[i] for i in indices]))
    counts = np.fromiter(map(len, examples.ids), dtype=np.int64, count=len(examples))
    compound = None if texts is None else short_text_scores(texts, counts, LEXICON_MAX_NGRAMS)
    return fit_calibration(logits, counts, examples.labels, weights, compound=compound)


# The languages of this share of the training texts or more are those the model answers in.
SUPPORTED_LANGUAGE_SHARE = 0.05
LANGUAGE_SAMPLE = 5000


def training_languages(texts: list[str], seed: int) -> dict[str, object]:
    """The languages of (a seeded sample of) the training texts, measured by serving's identifier."""
    rng = np.random.default_rng(seed)
    sample = [texts[i] for i in rng.permutation(len(texts))[:LANGUAGE_SAMPLE].tolist()]
    shares = language_shares(sample)
    supported = [
        language for language, share in shares.items() if share >= SUPPORTED_LANGUAGE_SHARE and language != UNDETERMINED
    ]
    return {
        "training": {k: round(v, 5) for k, v in shares.items()},
        "measured_on": len(sample),
        "supported": supported or ["en"],
    }


def last_sentences_of(texts: list[str], labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The last sentence of each text that has one, and its text's label."""
    pieces, kept = [], []
    for index, text in enumerate(texts):
        sentences = split_sentences(text)
        if sentences:
            pieces.append(sentences[-1])
            kept.append(index)
    return pieces, labels[np.asarray(kept, dtype=np.int64)]


def calibration_report(evaluation: Evaluation, labels: np.ndarray) -> dict[str, float]:
    confidences = evaluation.probabilities.max(axis=1)
    correct = evaluation.probabilities.argmax(axis=1) == labels
    return {
        "texts": len(labels),
        "accuracy": round(float(correct.mean()), 5),
        "expected_calibration_error": round(expected_calibration_error(confidences, correct), 5),
        "mean_confidence": round(float(confidences.mean()), 5),
    }


def encode(preprocessor: Preprocessor, texts: list[str], name: str, progress: bool) -> list[np.ndarray]:
    """The bucket ids of every text, by the batched `Preprocessor.encode_many` that serving uses."""
    ids: list[np.ndarray] = []
    starts = range(0, len(texts), TEXTS_PER_ENCODING)
    for start in tqdm(starts, desc=f"preprocessing {name}", disable=not progress, leave=False):
        ids += preprocessor.encode_many(texts[start : start + TEXTS_PER_ENCODING])
    return ids


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError("--device cuda was asked for, but CUDA is not available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)
