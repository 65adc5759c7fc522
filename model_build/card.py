"""The model card (``card.json``): what was trained, on what, how well, and the files' checksums."""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch

from model_build import bundle
from model_build.data import IMDB_NAME, LABEL_FOLDERS, Dataset
from model_build.evaluate import Evaluation
from model_build.export import operator_types
from model_build.label_metrics import label_report, macro_f1
from model_build.options import TrainOptions
from model_build.preprocess import PreprocessConfig
from model_build.quality_gate import GateVerdict


@dataclasses.dataclass(frozen=True)
class SplitSizes:
    train: int
    validation: int
    test: int


def build_card(
    *,
    version: str,
    options: TrainOptions,
    config: Any,
    preprocess: PreprocessConfig,
    dataset: Dataset,
    split_sizes: SplitSizes,
    history: list[dict[str, Any]],
    best_epoch: int,
    evaluations: dict[str, Evaluation],
    agreement: dict[str, float],
    gate: GateVerdict,
    folder: Path,
    seconds: dict[str, float],
    calibration: dict[str, Any],
    short_text: dict[str, int],
    languages: dict[str, Any],
    distillation: dict[str, Any] | None = None,
    class_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The card of the bundle whose data files are in ``folder``; ``evaluations`` by name
    (``torch_fp32``, ``onnx_fp32``, ``onnx_int8``)."""
    files = bundle.describe_files(folder)
    truth, classes = dataset.test.labels, len(preprocess.labels)
    accuracy = {name: evaluation.accuracy for name, evaluation in evaluations.items()}
    return {
        "format": bundle.CARD_FORMAT,
        "version": version,
        "architecture": options.arch,
        "created_at": bundle.utc_now(),
        "labels": list(preprocess.labels),
        "model_config": _jsonable(dataclasses.asdict(config)),
        "training": {
            "epochs": options.epochs,
            "learning_rate": options.learning_rate,
            "batch_size": options.batch_size,
            "seed": options.seed,
            "validation_fraction": options.validation_fraction,
            "best_epoch": best_epoch,
            "class_weights": class_weights,
            "refit_on_all_training_reviews": options.refit,
            "short_text": {
                **short_text,
                "sentence_crops_per_review": options.sentence_crops,
                "window_crops_per_review": options.window_crops,
                "window_words": options.window_words,
                "crop_smoothing": options.crop_smoothing,
                "crop_weight": options.crop_weight,
                "lexicon_weight": options.lexicon_weight,
                "lexicon_counts": options.lexicon_counts,
            },
            "distillation": distillation,
            "history": history,
            "seconds": seconds,
        },
        "dataset": dataset_section(dataset, split_sizes),
        "metrics": {
            "test_accuracy": {name: round(value, 5) for name, value in accuracy.items()},
            "test_macro_f1": {
                name: round(macro_f1(evaluation.probabilities.argmax(axis=1), truth, classes), 5)
                for name, evaluation in evaluations.items()
            },
            # of the int8 model, as served
            "test_labels": label_report(evaluations["onnx_int8"].probabilities, truth, tuple(preprocess.labels)),
            "quantization_drop_points": round((accuracy["onnx_fp32"] - accuracy["onnx_int8"]) * 100, 3),
            "onnx_fp32_vs_torch": agreement,
            "int8_to_fp32_size_ratio": round(
                files[bundle.MODEL_FILE]["bytes"] / files[bundle.FP32_MODEL_FILE]["bytes"], 4
            ),
            "int8_operators": operator_types(folder / bundle.MODEL_FILE),
        },
        "calibration": calibration,
        "languages": languages,
        "limitations": limitations(options.arch, languages["supported"], dataset),
        "vocabulary": None if preprocess.vocabulary is None else len(preprocess.vocabulary),
        "quality_gate": gate.to_card(),
        "files": files,
        "libraries": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
    }


def dataset_section(dataset: Dataset, split_sizes: SplitSizes) -> dict[str, Any]:
    """What the model was trained and tested on."""
    sizes = {"train": split_sizes.train, "validation": split_sizes.validation, "test": split_sizes.test}
    if dataset.is_imdb:
        return {"name": IMDB_NAME, "source": dataset.source, "sha256": dataset.sha256, **sizes,
                "label_folders": list(LABEL_FOLDERS)}  # fmt: skip
    return {
        "source": dataset.source,
        "sha256": dataset.sha256,
        **sizes,
        "labels": list(dataset.labels),
        **dataset.facts,
    }


def limitations(architecture: str, supported: list[str], dataset: Dataset | None = None) -> list[str]:
    """What the model does not handle, in sentences for the card and ``GET /model``."""
    trained_on = (
        "Trained on movie reviews: other domains, sarcasm and irony are judged less reliably."
        if dataset is None or dataset.is_imdb
        else f"Trained on {dataset.source}: text unlike it is judged less reliably."
    )
    said = [
        f"Answers only text in {', '.join(supported)}: text confidently in another language abstains "
        "(unsupported_language).",
        "Text with no word the model has learned from abstains (no_evidence).",
        trained_on,
    ]
    if architecture != "bow":
        said.append(f"The {architecture} architecture gives no explanations (its logits are no sum over n-grams).")
    return said


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))
