"""Train, export, quantize, evaluate and publish a sentiment model bundle.

    python -m model_build.train --arch bow --data ../shared/data/aclImdb_v1.tar.gz --out artifacts/models
    python -m model_build.train --arch lstm --out s3://models-bucket/models --device cuda

The same command runs on a laptop CPU and in the AWS Batch GPU job. See ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn
from tqdm import tqdm

from model_build import bundle, models
from model_build.data import (
    DEFAULT_CACHE_DIR,
    LABEL_FOLDERS,
    DataSourceError,
    default_source,
    load_imdb,
    split_validation,
)
from model_build.evaluate import Evaluation, evaluate_onnx, evaluate_torch, length_sorted_batches
from model_build.export import ExportError, export_onnx, operator_types, quantize_int8
from model_build.preprocess import DEFAULT_LABELS, Preprocessor, pad
from model_build.storage import StorageError, open_location

EXIT_FAILED = 2
EXIT_GATE_FAILED = 3
# ONNX fp32 must reproduce torch: probabilities within this, and the same predicted labels.
AGREEMENT_TOLERANCE = 1e-4


class ExportMismatchError(Exception):
    """The ONNX fp32 graph does not reproduce the torch model."""


class DeviceUnavailableError(Exception):
    """The requested device cannot be used here."""


@dataclass
class TrainOptions:
    arch: str
    out: str
    data: str
    data_sha256: str | None
    cache_dir: Path
    epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    device: str
    validation_fraction: float
    min_accuracy: float
    max_quantization_drop: float
    promote: bool
    refit: bool
    model_options: dict[str, Any]
    progress: bool


@dataclass
class TrainResult:
    version: str
    card: dict[str, Any]
    promoted: bool
    gate_passed: bool
    location: str
    model: nn.Module  # the trained torch model (CPU), for callers that compare against it


# -- command line ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    architectures = models.available()
    defaults = {name: models.load(name).TRAINING for name in architectures}

    def per_arch(field: str) -> str:
        return ", ".join(f"{name} {getattr(d, field)}" for name, d in defaults.items())

    option_help = "; ".join(
        f"{name}: " + ", ".join(f"{f.name}={_format_default(f)}" for f in dataclasses.fields(models.load(name).Config))
        for name in architectures
    )
    parser = argparse.ArgumentParser(
        prog="python -m model_build.train",
        description=(
            "Train a sentiment model on the IMDB reviews, export it to ONNX, quantize it to int8, "
            "evaluate torch fp32, ONNX fp32 and ONNX int8 on the 25,000 test reviews and write the "
            "bundle to OUT/<version>/. OUT/current.json is rewritten only when the bundle passes "
            "the quality gate."
        ),
        epilog=(
            f"Exit status: 0 published (and promoted unless --no-promote); {EXIT_GATE_FAILED} published "
            f"but not promoted because the quality gate failed; {EXIT_FAILED} nothing published (bad "
            "data source, output location or export). Architectures: "
            + "; ".join(f"{name}: {models.load(name).DESCRIPTION}" for name in architectures)
        ),
        formatter_class=_HelpWithDefaults,
    )
    parser.add_argument("--arch", choices=architectures, default="bow", help="model architecture")
    parser.add_argument(
        "--data",
        default=default_source(),
        help="the IMDB dataset: a .tar.gz of the official archive, an unpacked aclImdb/ folder, or an "
        "http(s) URL (downloaded once into --cache-dir and sha256-verified)",
    )
    parser.add_argument(
        "--data-sha256",
        default=None,
        help="expected sha256 of the archive, checked for files and URLs (default: none, but the official "
        "URL's own is built in)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where URL downloads are kept")
    parser.add_argument(
        "--out",
        required=True,
        help="where bundles are published: a folder or s3://bucket/prefix (honours AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default: {per_arch('epochs')})")
    parser.add_argument(
        "--learning-rate", type=float, default=None, help=f"learning rate (default: {per_arch('learning_rate')})"
    )
    parser.add_argument("--batch-size", type=int, default=None, help=f"batch size (default: {per_arch('batch_size')})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split, initialization and batch order")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available, else CPU"
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the training reviews held out (stratified, seeded) to pick the best epoch; "
        "the test reviews are used only for the final evaluation",
    )
    parser.add_argument(
        "--min-accuracy",
        type=float,
        default=0.85,
        help="quality gate: the int8 model's test accuracy must reach this to be promoted",
    )
    parser.add_argument(
        "--max-quantization-drop",
        type=float,
        default=0.005,
        help="quality gate: int8 test accuracy may be at most this far below ONNX fp32 (0.005 = 0.5 points)",
    )
    parser.add_argument(
        "--no-promote",
        dest="promote",
        action="store_false",
        help="publish the bundle but leave OUT/current.json as it is",
    )
    parser.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after choosing the epoch count on the validation split, train again from scratch on all "
        "training reviews (validation included) for that many epochs; --no-refit keeps the model of the "
        f"best validation epoch (default: {per_arch('refit')})",
    )
    parser.add_argument(
        "--set",
        dest="model_options",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help=f"override a model option (repeatable); options and their defaults per architecture: {option_help}",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return parser


class _HelpWithDefaults(argparse.HelpFormatter):
    """Appends "(default: X)" to every option whose help does not state its default already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, argparse.SUPPRESS):
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return text
        return f"{text} (default: %(default)s)"


def parse_options(argv: Sequence[str] | None = None) -> TrainOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    defaults = models.load(args.arch).TRAINING
    try:
        model_options = _parse_model_options(args.arch, args.model_options)
    except ValueError as error:
        parser.error(str(error))
    for name in ("epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 < args.validation_fraction < 1:
        parser.error("--validation-fraction must be between 0 and 1")
    return TrainOptions(
        arch=args.arch,
        out=args.out,
        data=args.data,
        data_sha256=args.data_sha256,
        cache_dir=args.cache_dir,
        epochs=args.epochs or defaults.epochs,
        learning_rate=args.learning_rate or defaults.learning_rate,
        batch_size=args.batch_size or defaults.batch_size,
        seed=args.seed,
        device=args.device,
        validation_fraction=args.validation_fraction,
        min_accuracy=args.min_accuracy,
        max_quantization_drop=args.max_quantization_drop,
        promote=args.promote,
        refit=defaults.refit if args.refit is None else args.refit,
        model_options=model_options,
        progress=args.progress,
    )


def _format_default(field: dataclasses.Field) -> str:
    value = field.default
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _parse_model_options(arch: str, pairs: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(models.load(arch).Config)}
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(fields)}")
        default = fields[key].default
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value: Any = raw.lower() in ("true", "1")
            elif isinstance(default, tuple):
                value = tuple(int(part) for part in raw.split(","))
            else:
                value = type(default)(raw)
        except ValueError:
            raise ValueError(f"--set {pair!r}: {raw!r} is not a valid {type(default).__name__}") from None
        options[key] = value
    return options


# -- the pipeline ----------------------------------------------------------------------------


def run(options: TrainOptions) -> TrainResult:
    started = time.perf_counter()
    _seed_everything(options.seed)
    device = _resolve_device(options.device)
    architecture = models.load(options.arch)
    config = architecture.Config(**options.model_options)
    preprocess_config = config.preprocess_config(DEFAULT_LABELS)
    preprocessor = Preprocessor(preprocess_config)
    location = open_location(options.out)
    location.check_writable()  # a bad --out fails now, not after training

    dataset = load_imdb(
        options.data, cache_dir=options.cache_dir, expected_sha256=options.data_sha256, progress=options.progress
    )
    train_split, validation_split = split_validation(dataset.train, options.validation_fraction, options.seed)
    _say(
        f"data: {len(train_split)} train, {len(validation_split)} validation, {len(dataset.test)} test reviews "
        f"(sha256 {dataset.sha256[:12]}…); device {device}"
    )

    def encode(texts: list[str], name: str) -> list[np.ndarray]:
        bar = tqdm(texts, desc=f"preprocessing {name}", disable=not options.progress, leave=False)
        return [preprocessor.encode(text) for text in bar]

    train_ids = encode(train_split.texts, "train")
    validation_ids = encode(validation_split.texts, "validation")
    test_ids = encode(dataset.test.texts, "test")

    model = _new_model(architecture, config, train_ids, train_split.labels, device)
    history = _fit(
        model, architecture.TRAINING, options, options.epochs, train_ids, train_split.labels, device,
        validation=(validation_ids, validation_split.labels),
    )
    best_epoch = max(history, key=lambda r: r["validation_accuracy"])["epoch"]
    if options.refit:
        # The validation split has done its job (choosing the epoch count): train again from
        # scratch on all training reviews for that many epochs.
        _say(f"refit: training on all {len(dataset.train)} training reviews for {best_epoch} epochs")
        all_ids, all_labels = train_ids + validation_ids, np.concatenate([train_split.labels, validation_split.labels])
        model = _new_model(architecture, config, all_ids, all_labels, device)
        history += _fit(model, architecture.TRAINING, options, best_epoch, all_ids, all_labels, device, validation=None)
    model.to("cpu")
    device = torch.device("cpu")

    version = bundle.new_version(options.arch)
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        folder = Path(scratch)
        export_started = time.perf_counter()
        export_onnx(model, preprocess_config, folder / bundle.FP32_MODEL_FILE)
        quantize_int8(folder / bundle.FP32_MODEL_FILE, folder / bundle.MODEL_FILE)
        (folder / bundle.PREPROCESS_FILE).write_text(preprocess_config.to_json())
        export_seconds = time.perf_counter() - export_started

        evaluations = {
            "torch_fp32": evaluate_torch(model, test_ids, dataset.test.labels, device=device, progress=options.progress),
            "onnx_fp32": evaluate_onnx(
                folder / bundle.FP32_MODEL_FILE, preprocess_config, test_ids, dataset.test.labels,
                progress=options.progress, description="onnx fp32",
            ),
            "onnx_int8": evaluate_onnx(
                folder / bundle.MODEL_FILE, preprocess_config, test_ids, dataset.test.labels,
                progress=options.progress, description="onnx int8",
            ),
        }
        agreement = _check_agreement(evaluations["torch_fp32"], evaluations["onnx_fp32"])
        gate = _quality_gate(evaluations, options)
        card = _card(
            version=version, options=options, config=config, dataset=dataset,
            split_sizes=(len(train_split), len(validation_split), len(dataset.test)),
            history=history, evaluations=evaluations, agreement=agreement, gate=gate, folder=folder,
            seconds={"export_and_quantize": round(export_seconds, 2), "total": round(time.perf_counter() - started, 2)},
        )
        promote = options.promote and gate["passed"]
        bundle.publish(location, folder, card, promote=promote)
    return TrainResult(version, card, promote, gate["passed"], f"{location.url}/{version}", model)


def _new_model(architecture, config, ids: list[np.ndarray], labels: np.ndarray, device: torch.device) -> nn.Module:
    model = architecture.Model(config)
    if hasattr(model, "fit_ngram_weights"):
        model.fit_ngram_weights(ids, labels)
    return model.to(device)


def _fit(
    model: nn.Module,
    defaults: models.TrainingDefaults,
    options: TrainOptions,
    epochs: int,
    train_ids: list[np.ndarray],
    train_labels: np.ndarray,
    device: torch.device,
    validation: tuple[list[np.ndarray], np.ndarray] | None,
) -> list[dict[str, Any]]:
    """Trains for ``epochs``; with a validation split, keeps the weights of its best epoch."""
    optimizers = model.configure_optimizers(defaults, options.learning_rate)
    rng = np.random.default_rng(options.seed)
    labels = torch.from_numpy(train_labels)
    phase = "select" if validation is not None else "refit"
    history: list[dict[str, Any]] = []
    best_accuracy, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        # batches of similar lengths (little padding), visited in a seeded random order
        batches = list(length_sorted_batches(train_ids, options.batch_size))
        rng.shuffle(batches)
        total_loss = 0.0
        bar = tqdm(batches, desc=f"{phase} epoch {epoch}/{epochs}", leave=False, disable=not options.progress)
        for step, indices in enumerate(bar, start=1):
            ids = torch.from_numpy(pad([train_ids[i] for i in indices])).to(device)
            loss = nn.functional.cross_entropy(model(ids), labels[indices].to(device))
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            total_loss += loss.item()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{total_loss / step:.4f}")
        record: dict[str, Any] = {
            "phase": phase,
            "epoch": epoch,
            "train_loss": round(total_loss / max(1, len(batches)), 5),
        }
        line = f"{phase} epoch {epoch}/{epochs}: train loss {record['train_loss']:.4f}"
        if validation is not None:
            accuracy = evaluate_torch(
                model, validation[0], validation[1], device=device, progress=False, description="validation"
            ).accuracy
            record["validation_accuracy"] = round(accuracy, 5)
            line += f", validation accuracy {accuracy:.4f}"
            if accuracy > best_accuracy:
                best_accuracy = accuracy
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        record["seconds"] = round(time.perf_counter() - epoch_started, 2)
        history.append(record)
        _say(f"{line} ({record['seconds']:.1f} s)")
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _check_agreement(torch_eval: Evaluation, onnx_eval: Evaluation) -> dict[str, float]:
    difference = float(np.abs(torch_eval.probabilities - onnx_eval.probabilities).max())
    same_label = float((torch_eval.probabilities.argmax(1) == onnx_eval.probabilities.argmax(1)).mean())
    # A label may flip only where torch itself sits on the decision boundary.
    margin = np.abs(torch_eval.probabilities[:, 1] - 0.5)
    flips_off_boundary = int(
        ((torch_eval.probabilities.argmax(1) != onnx_eval.probabilities.argmax(1)) & (margin > AGREEMENT_TOLERANCE)).sum()
    )
    if difference > AGREEMENT_TOLERANCE or flips_off_boundary:
        raise ExportMismatchError(
            f"ONNX fp32 disagrees with torch: max probability difference {difference:.2e}, "
            f"{flips_off_boundary} labels flipped"
        )
    return {"max_probability_difference": difference, "label_agreement": same_label}


def _quality_gate(evaluations: dict[str, Evaluation], options: TrainOptions) -> dict[str, Any]:
    int8 = evaluations["onnx_int8"].accuracy
    drop = evaluations["onnx_fp32"].accuracy - int8
    reasons = []
    if int8 < options.min_accuracy:
        reasons.append(f"int8 accuracy {int8:.4f} is below the floor {options.min_accuracy:.4f}")
    if drop > options.max_quantization_drop:
        reasons.append(f"int8 is {drop * 100:.2f} points below fp32 (at most {options.max_quantization_drop * 100:.2f})")
    return {
        "passed": not reasons,
        "reasons": reasons,
        "min_accuracy": options.min_accuracy,
        "max_quantization_drop": options.max_quantization_drop,
    }


def _card(*, version, options, config, dataset, split_sizes, history, evaluations, agreement, gate, folder, seconds) -> dict[str, Any]:
    files = bundle.describe_files(folder)
    train_size, validation_size, test_size = split_sizes
    return {
        "format": bundle.CARD_FORMAT,
        "version": version,
        "architecture": options.arch,
        "created_at": bundle.utc_now(),
        "labels": list(DEFAULT_LABELS),
        "model_config": _jsonable(dataclasses.asdict(config)),
        "training": {
            "epochs": options.epochs,
            "learning_rate": options.learning_rate,
            "batch_size": options.batch_size,
            "seed": options.seed,
            "validation_fraction": options.validation_fraction,
            "best_epoch": max(
                (r for r in history if "validation_accuracy" in r), key=lambda r: r["validation_accuracy"]
            )["epoch"],
            "refit_on_all_training_reviews": options.refit,
            "history": history,
            "seconds": seconds,
        },
        "dataset": {
            "name": "IMDB Large Movie Review Dataset v1.0 (Maas et al., 2011)",
            "source": dataset.source,
            "sha256": dataset.sha256,
            "train": train_size,
            "validation": validation_size,
            "test": test_size,
            "label_folders": list(LABEL_FOLDERS),
        },
        "metrics": {
            "test_accuracy": {name: round(e.accuracy, 5) for name, e in evaluations.items()},
            "quantization_drop_points": round((evaluations["onnx_fp32"].accuracy - evaluations["onnx_int8"].accuracy) * 100, 3),
            "onnx_fp32_vs_torch": agreement,
            "int8_to_fp32_size_ratio": round(files[bundle.MODEL_FILE]["bytes"] / files[bundle.FP32_MODEL_FILE]["bytes"], 4),
            "int8_operators": operator_types(folder / bundle.MODEL_FILE),
        },
        "quality_gate": gate,
        "files": files,
        "libraries": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError("--device cuda was asked for, but CUDA is not available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def _say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def summary(result: TrainResult) -> str:
    metrics = result.card["metrics"]
    accuracy = metrics["test_accuracy"]
    sizes = {name: info["bytes"] for name, info in result.card["files"].items()}
    lines = [
        f"bundle {result.version} -> {result.location}",
        f"  test accuracy: torch fp32 {accuracy['torch_fp32']:.4f}, onnx fp32 {accuracy['onnx_fp32']:.4f}, "
        f"onnx int8 {accuracy['onnx_int8']:.4f}",
        f"  model.onnx {sizes[bundle.MODEL_FILE] / 1e6:.2f} MB, model.fp32.onnx {sizes[bundle.FP32_MODEL_FILE] / 1e6:.2f} MB "
        f"(ratio {metrics['int8_to_fp32_size_ratio']:.3f})",
    ]
    if result.promoted:
        lines.append("  promoted: current.json now points to this version")
    elif not result.gate_passed:
        lines.append("  NOT promoted, quality gate failed: " + "; ".join(result.card["quality_gate"]["reasons"]))
    else:
        lines.append("  not promoted (--no-promote)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        result = run(options)
    except (
        DataSourceError, DeviceUnavailableError, StorageError, ExportError, ExportMismatchError, bundle.BundleError
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(result))
    return 0 if result.gate_passed else EXIT_GATE_FAILED


if __name__ == "__main__":
    sys.exit(main())
