"""Model architectures, one module each, found by name.

An architecture module holds a dataclass ``Config`` (model hyperparameters and the
preprocessing it wants), ``TRAINING`` (its default `TrainingDefaults`), ``DESCRIPTION`` and a
pure ``Model(nn.Module)`` that maps padded ``input_ids`` ``[batch, sequence]`` (0 = padding) to
logits ``[batch, classes]``. Adding an architecture means adding one module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class TrainingDefaults:
    epochs: int
    learning_rate: float
    batch_size: int
    weight_decay: float = 0.0
    # train again on all training reviews for the chosen epoch count (see model_build.training_loop)
    refit: bool = True


def check_at_least(config: object, minimum: int, *names: str) -> None:
    """For a ``Config.__post_init__``: each named field is at least ``minimum``."""
    for name in names:
        value = getattr(config, name)
        if not value >= minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")


def available() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def load(name: str) -> ModuleType:
    if name not in available():
        raise ValueError(f"unknown architecture {name!r} (choose from {', '.join(available())})")
    return importlib.import_module(f"{__name__}.{name}")
