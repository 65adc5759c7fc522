"""The training loop: epochs over length-sorted batches, the best validation epoch, the refit.

``train_model`` first trains on the training split and keeps the weights of the epoch with the
best validation accuracy; with ``refit`` it then trains a fresh model on training and
validation reviews together for that many epochs (the validation split has done its job).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from model_build.console import say
from model_build.evaluate import evaluate_torch
from model_build.options import TrainOptions
from model_build.preprocess import pad


@dataclass
class EncodedSplit:
    """Encoded training examples: whole reviews with their labels, and (`with_examples`) pieces
    of reviews or lexicon entries with soft targets and weights of their own."""

    ids: list[np.ndarray]  # one array of ids per example
    labels: np.ndarray  # the label of each example (the likeliest of its targets)
    targets: np.ndarray | None = None  # [n, classes] float32; None: one-hot labels
    weights: np.ndarray | None = None  # [n] float32; None: all 1
    whole: np.ndarray | None = None  # [n] bool, whole reviews; None: all
    counts: np.ndarray | None = None  # [n] float32, share in the naive-Bayes weights; None: whole reviews 1

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def pieces(
        cls, ids: list[np.ndarray], targets: np.ndarray, weights: np.ndarray, counts: float = 0.0
    ) -> EncodedSplit:
        """Examples that are no whole reviews (crops, lexicon entries), with soft targets and
        weights; ``counts``: as how many reviews each counts in the naive-Bayes weights."""
        return cls(ids, targets.argmax(axis=1), targets.astype(np.float32), weights.astype(np.float32),
                   np.zeros(len(ids), dtype=bool), np.full(len(ids), counts, dtype=np.float32))  # fmt: skip

    def __add__(self, other: EncodedSplit) -> EncodedSplit:
        # one-hot targets take their width from the side that has soft ones
        # (and two sides of hard labels stay hard: neither may hold every label)
        classes = next((split.targets.shape[1] for split in (self, other) if split.targets is not None), None)
        return EncodedSplit(
            self.ids + other.ids,
            np.concatenate([self.labels, other.labels]),
            None if classes is None else np.concatenate([self.soft_targets(classes), other.soft_targets(classes)]),
            np.concatenate([self.example_weights(), other.example_weights()]),
            np.concatenate([self.whole_reviews(), other.whole_reviews()]),
            np.concatenate([self.naive_bayes_counts(), other.naive_bayes_counts()]),
        )

    def with_examples(
        self, ids: list[np.ndarray], targets: np.ndarray, weights: np.ndarray, counts: float = 0.0
    ) -> EncodedSplit:
        return self + EncodedSplit.pieces(ids, targets, weights, counts)

    def soft_targets(self, classes: int | None = None) -> np.ndarray:
        if self.targets is not None:
            return self.targets
        classes = classes or max(2, int(self.labels.max(initial=0)) + 1)
        return np.eye(classes, dtype=np.float32)[self.labels]

    def example_weights(self) -> np.ndarray:
        return np.ones(len(self), dtype=np.float32) if self.weights is None else self.weights

    def whole_reviews(self) -> np.ndarray:
        return np.ones(len(self), dtype=bool) if self.whole is None else self.whole

    def naive_bayes_counts(self) -> np.ndarray:
        return self.whole_reviews().astype(np.float32) if self.counts is None else self.counts


@dataclass
class TrainedModel:
    model: nn.Module  # on the training device
    history: list[dict[str, Any]]  # one record per epoch, of both phases
    best_epoch: int  # by validation accuracy
    selected: nn.Module  # the first phase's model (``model`` itself without a refit)


def train_model(
    architecture: ModuleType,
    config: Any,
    rows: int,
    options: TrainOptions,
    train: EncodedSplit,
    validation: EncodedSplit,
    device: torch.device,
    *,
    refit_extra: Callable[[nn.Module], EncodedSplit | None] | None = None,
) -> TrainedModel:
    """Trains on ``train`` choosing the epoch by accuracy on ``validation`` (whole reviews);
    with ``options.refit``, trains again on both and on what ``refit_extra`` gives when called
    with the first phase's model (the validation reviews' own crops, a teacher's examples).
    ``TrainedModel.selected`` is the model of the first phase, which has never seen
    ``validation``: calibration is fitted on its answers."""
    model = new_model(architecture, config, rows, train, device)
    history = fit(model, architecture, options, options.epochs, train, device, validation=validation)
    best_epoch = max(history, key=lambda record: record["validation_accuracy"])["epoch"]
    selected = model
    if options.refit:
        everything = train + validation
        extra = refit_extra(model) if refit_extra is not None else None
        if extra is not None and len(extra):
            everything = everything + extra
        say(f"refit: training on all {len(everything)} training examples for {best_epoch} epochs")
        model = new_model(architecture, config, rows, everything, device)
        history += fit(model, architecture, options, best_epoch, everything, device, validation=None)
    return TrainedModel(model, history, best_epoch, selected)


def new_model(architecture: ModuleType, config: Any, rows: int, train: EncodedSplit, device: torch.device) -> nn.Module:
    model = architecture.Model(config, rows)
    if hasattr(model, "fit_ngram_weights"):  # weights counted before the first step
        counts = train.naive_bayes_counts()
        kept = np.flatnonzero(counts > 0)
        model.fit_ngram_weights(
            [train.ids[i] for i in kept], train.soft_targets(config.num_classes)[kept] * counts[kept, None]
        )
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
    targets = torch.from_numpy(train.soft_targets(model.config.num_classes))
    weights = torch.from_numpy(train.example_weights())
    phase = "select" if validation is not None else "refit"
    history: list[dict[str, Any]] = []
    best_accuracy, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        # batches of similar lengths (little padding), visited in a seeded random order
        batches = training_batches(train.ids, options.batch_size)
        rng.shuffle(batches)
        total_loss = 0.0
        bar = tqdm(batches, desc=f"{phase} epoch {epoch}/{epochs}", leave=False, disable=not options.progress)
        for step, indices in enumerate(bar, start=1):
            ids = torch.from_numpy(pad([train.ids[i] for i in indices])).to(device)
            loss = weighted_cross_entropy(model(ids), targets[indices].to(device), weights[indices].to(device))
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


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft ``targets``, averaged with the examples' ``weights``."""
    losses = -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
    return (losses * weights).sum() / weights.sum().clamp(min=1e-12)


# A training batch holds `batch_size` examples, or more of short ones (crops, lexicon entries):
# up to `SHORT_BATCH_FACTOR` times as many, while it has fewer than `batch_size * IDS_PER_EXAMPLE` ids.
SHORT_BATCH_FACTOR = 8
IDS_PER_EXAMPLE = 128


def training_batches(sequences: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Index batches of similar lengths, so that padding stays small; short examples go in larger
    batches, so that a few thousand crops cost a few dozen steps rather than a few hundred."""
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = min(start + batch_size, len(order))
        ids = int(lengths[order[start:end]].sum())
        while end < len(order) and end - start < batch_size * SHORT_BATCH_FACTOR and ids < batch_size * IDS_PER_EXAMPLE:
            ids += int(lengths[order[end]])
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
