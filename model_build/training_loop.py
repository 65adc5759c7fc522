"""The training loop: epochs over length-sorted batches, the best validation epoch, the refit.

``train_model`` first trains on the training split and keeps the weights of the epoch with the
best validation accuracy; with ``refit`` it then trains a fresh model on training and
validation reviews together for that many epochs (the validation split has done its job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from model_build.console import say
from model_build.evaluate import evaluate_torch, length_sorted_batches
from model_build.options import TrainOptions
from model_build.preprocess import pad


@dataclass
class EncodedSplit:
    ids: list[np.ndarray]  # one array of bucket ids per review
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def __add__(self, other: EncodedSplit) -> EncodedSplit:
        return EncodedSplit(self.ids + other.ids, np.concatenate([self.labels, other.labels]))


@dataclass
class TrainedModel:
    model: nn.Module  # on the training device
    history: list[dict[str, Any]]  # one record per epoch, of both phases
    best_epoch: int  # by validation accuracy


def train_model(
    architecture: ModuleType,
    config: Any,
    options: TrainOptions,
    train: EncodedSplit,
    validation: EncodedSplit,
    device: torch.device,
) -> TrainedModel:
    model = new_model(architecture, config, train, device)
    history = fit(model, architecture, options, options.epochs, train, device, validation=validation)
    best_epoch = max(history, key=lambda record: record["validation_accuracy"])["epoch"]
    if options.refit:
        everything = train + validation
        say(f"refit: training on all {len(everything)} training reviews for {best_epoch} epochs")
        model = new_model(architecture, config, everything, device)
        history += fit(model, architecture, options, best_epoch, everything, device, validation=None)
    return TrainedModel(model, history, best_epoch)


def new_model(architecture: ModuleType, config: Any, train: EncodedSplit, device: torch.device) -> nn.Module:
    model = architecture.Model(config)
    if hasattr(model, "fit_ngram_weights"):  # weights computed from the data before the first step
        model.fit_ngram_weights(train.ids, train.labels)
    return model.to(device)


def fit(
    model: nn.Module,
    architecture: ModuleType,
    options: TrainOptions,
    epochs: int,
    train: EncodedSplit,
    device: torch.device,
    validation: EncodedSplit | None,
) -> list[dict[str, Any]]:
    """Trains for ``epochs``; with a validation split, keeps the weights of its best epoch."""
    optimizers = model.configure_optimizers(architecture.TRAINING, options.learning_rate)
    rng = np.random.default_rng(options.seed)
    labels = torch.from_numpy(train.labels)
    phase = "select" if validation is not None else "refit"
    history: list[dict[str, Any]] = []
    best_accuracy, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        # batches of similar lengths (little padding), visited in a seeded random order
        batches = list(length_sorted_batches(train.ids, options.batch_size))
        rng.shuffle(batches)
        total_loss = 0.0
        bar = tqdm(batches, desc=f"{phase} epoch {epoch}/{epochs}", leave=False, disable=not options.progress)
        for step, indices in enumerate(bar, start=1):
            ids = torch.from_numpy(pad([train.ids[i] for i in indices])).to(device)
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
                model, validation.ids, validation.labels, device=device, progress=False, description="validation"
            ).accuracy
            record["validation_accuracy"] = round(accuracy, 5)
            line += f", validation accuracy {accuracy:.4f}"
            if accuracy > best_accuracy:
                best_accuracy = accuracy
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        record["seconds"] = round(time.perf_counter() - epoch_started, 2)
        history.append(record)
        say(f"{line} ({record['seconds']:.1f} s)")
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
