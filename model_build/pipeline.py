"""The training pipeline: data -> token ids -> trained model -> ONNX fp32 -> int8 -> evaluated,
gated, described and published bundle. Each step is a module of its own; this one runs them."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from model_build import bundle, models
from model_build.agreement import check_agreement
from model_build.card import SplitSizes, build_card
from model_build.console import say
from model_build.data import load_imdb, split_validation
from model_build.evaluate import Evaluation, evaluate_served, evaluate_torch
from model_build.export import export_onnx, quantize_int8
from model_build.options import TrainOptions
from model_build.preprocess import DEFAULT_LABELS, Preprocessor
from model_build.quality_gate import quality_gate
from model_build.storage import open_location
from model_build.training_loop import EncodedSplit, train_model

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
    config = options.model_config()
    preprocess_config = config.preprocess_config(DEFAULT_LABELS)
    preprocessor = Preprocessor(preprocess_config)
    location = open_location(options.out)
    location.check_writable()  # a bad --out fails now, not after training

    dataset = load_imdb(
        options.data, cache_dir=options.cache_dir, expected_sha256=options.data_sha256, progress=options.progress
    )
    train_split, validation_split = split_validation(dataset.train, options.validation_fraction, options.seed)
    say(
        f"data: {len(train_split)} train, {len(validation_split)} validation, {len(dataset.test)} test reviews "
        f"(sha256 {dataset.sha256[:12]}…); device {device}"
    )
    train = EncodedSplit(encode(preprocessor, train_split.texts, "train", options.progress), train_split.labels)
    validation = EncodedSplit(
        encode(preprocessor, validation_split.texts, "validation", options.progress), validation_split.labels
    )
    test = EncodedSplit(encode(preprocessor, dataset.test.texts, "test", options.progress), dataset.test.labels)

    trained = train_model(architecture, config, options, train, validation, device)
    model = trained.model.to("cpu")

    version = bundle.new_version(options.arch)
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        folder = Path(scratch)
        export_started = time.perf_counter()
        export_onnx(model, preprocess_config, folder / bundle.FP32_MODEL_FILE)
        quantize_int8(folder / bundle.FP32_MODEL_FILE, folder / bundle.MODEL_FILE)
        (folder / bundle.PREPROCESS_FILE).write_text(preprocess_config.to_json())
        export_seconds = time.perf_counter() - export_started

        def served(file: str, description: str) -> Evaluation:
            return evaluate_served(
                folder / file,
                preprocessor,
                dataset.test.texts,
                dataset.test.labels,
                version=version,
                progress=options.progress,
                description=description,
            )

        evaluations = {
            "torch_fp32": evaluate_torch(
                model, test.ids, test.labels, device=torch.device("cpu"), progress=options.progress
            ),
            "onnx_fp32": served(bundle.FP32_MODEL_FILE, "onnx fp32"),
            "onnx_int8": served(bundle.MODEL_FILE, "onnx int8"),
        }
        agreement = check_agreement(evaluations["torch_fp32"], evaluations["onnx_fp32"])
        gate = quality_gate(
            evaluations["onnx_int8"],
            evaluations["onnx_fp32"],
            min_accuracy=options.min_accuracy,
            max_quantization_drop=options.max_quantization_drop,
        )
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
        )
        promote = options.promote and gate.passed
        bundle.publish(location, folder, card, promote=promote)
    return TrainResult(version, card, promote, gate.passed, f"{location.url}/{version}", model)


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
