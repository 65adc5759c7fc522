"""The options of ``python -m model_build.train``: one typed dataclass, checked when it is built.

The command line is generated from the fields (`model_build.command_line`); every value,
whether it comes from the command line or from code, is checked in ``__post_init__`` with an
`OptionError` that names the option. ``None`` for ``epochs``, ``learning_rate``,
``batch_size`` and ``refit`` means "the architecture's default" and is resolved there, so a
built `TrainOptions` holds only concrete values.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from model_build import models
from model_build.command_line import OptionError, option
from model_build.data import DEFAULT_CACHE_DIR, default_source
from model_build.labelled_data import is_labelled_source
from model_build.preprocess import DEFAULT_LABELS
from model_build.storage import StorageError, check_url

Device = Literal["auto", "cpu", "cuda"]
DEVICES = typing.get_args(Device)
ARCHITECTURES = tuple(models.available())
_TRAINING_DEFAULTS = {name: models.load(name).TRAINING for name in ARCHITECTURES}
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MAX_SEED = 2**32  # what numpy's legacy seeding accepts
IMDB_MIN_ACCURACY = 0.85


def _per_architecture(setting: str) -> str:
    return ", ".join(f"{name} {getattr(defaults, setting)}" for name, defaults in _TRAINING_DEFAULTS.items())


def _model_option_defaults() -> str:
    def shown(value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)

    return "; ".join(
        f"{name}: " + ", ".join(f"{f.name}={shown(f.default)}" for f in dataclasses.fields(models.load(name).Config))
        for name in ARCHITECTURES
    )


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    arch: str = option(default="bow", choices=ARCHITECTURES, help="model architecture")
    data: str = option(
        default_factory=default_source,
        help="the training data: the IMDB dataset (a .tar.gz of the official archive, an unpacked aclImdb/ "
        "folder, or an http(s) URL, downloaded once into --cache-dir and sha256-verified), or a labelled "
        "dataset of your own: a .csv (header with --text-column and --label-column) or .jsonl file, local, "
        "s3://bucket/key or https",
    )
    data_sha256: str | None = option(
        default=None,
        help="expected sha256 of the --data file, checked for files and URLs (default: none, but the official "
        "URL's own is built in)",
    )
    test_data: str | None = option(
        default=None,
        help="a labelled dataset's separate evaluation set (same format and columns as --data); default: "
        "--test-fraction of --data held out",
    )
    text_column: str = option(default="text", help="labelled dataset: the column (CSV) or field (JSONL) of the text")
    label_column: str = option(default="label", help="labelled dataset: the column or field of the label")
    test_fraction: float = option(
        default=0.2,
        help="labelled dataset without --test-data: share held out for the evaluation (stratified by label, seeded)",
    )
    class_weights: bool = option(
        default=False,
        help="weigh each training example by n / (labels x its label's count), so that every label weighs "
        "the same in the loss (for imbalanced data)",
    )
    cache_dir: Path = option(default=DEFAULT_CACHE_DIR, help="where URL downloads are kept")
    out: str = option(help="where bundles are published: a folder or s3://bucket/prefix (honours AWS_ENDPOINT_URL)")
    epochs: int | None = option(default=None, help=f"training epochs (default: {_per_architecture('epochs')})")
    learning_rate: float | None = option(
        default=None, help=f"learning rate, above 0 (default: {_per_architecture('learning_rate')})"
    )
    batch_size: int | None = option(default=None, help=f"batch size (default: {_per_architecture('batch_size')})")
    seed: int = option(
        default=0,
        help="seed of the held-out splits (validation; a labelled dataset's test), initialization and batch order",
    )
    device: Device = option(default="auto", help="auto: CUDA when available, else CPU")
    validation_fraction: float = option(
        default=0.1,
        help="share of the training reviews held out (stratified, seeded) to pick the best epoch; "
        "the test reviews are used only for the final evaluation",
    )
    sentence_crops: int = option(
        default=2,
        help="short-text training: sentences (of 3 words or more) taken from each training review and trained "
        "on with its softened label (0: none)",
    )
    window_crops: int = option(default=1, help="short-text training: windows of --window-words words per review")
    window_words: int = option(default=12, help="the words of a window crop")
    crop_smoothing: float = option(
        default=0.2, help="share of a crop's label spread over all labels (a piece of a review may say little)"
    )
    crop_weight: float = option(default=0.5, help="weight of a crop in the loss (a whole review weighs 1)")
    lexicon_weight: float = option(
        default=1.0,
        help="weight of the VADER lexicon examples (each word alone and negated, soft-labelled by its valence; "
        "default labels only; 0: none)",
    )
    lexicon_counts: float = option(
        default=10.0,
        help="how many training reviews each lexicon example counts as in the naive-Bayes n-gram weights "
        "(words that IMDB rarely uses get a weight, so that the model can learn them)",
    )
    calibration_opinions: int = option(
        default=3000,
        help="generated self-contained short opinions (model_build/short_opinions.py) that the calibration "
        "and the lexicon weight are fitted on, half the calibration's weight, besides the validation "
        "reviews and their crops (default labels only; 0: none)",
    )
    short_text_lexicon: bool = option(
        default=True,
        help="the served probability of a short text (at most 64 n-gram ids: a sentence or two) adds "
        "VADER's score of it, with a weight fitted in the calibration (two labels only)",
    )
    distill: bool = option(
        default=False,
        help="distillation (with the refit; off by default, as it did not help: README, Distillation): the "
        "teacher (the first training's model with the VADER lexicon) labels new crops of the training reviews "
        "and the archive's unlabelled reviews (train/unsup) and their crops, and the refit learns from them",
    )
    unlabelled_reviews: int = option(
        default=50000, help="distillation: at most this many of the archive's unlabelled reviews (0: none)"
    )
    distill_weight: float = option(
        default=1.0,
        help="distillation: weight of a teacher-labelled review in the loss (its crops weigh --crop-weight)",
    )
    min_accuracy: float | None = option(
        default=None,
        help="quality gate: the int8 model's test accuracy must reach this to be promoted (default: "
        f"{IMDB_MIN_ACCURACY} on IMDB; none on a labelled dataset, where it must still beat always answering "
        "the most common test label)",
    )
    min_macro_f1: float = option(
        default=0.0, help="quality gate: the int8 model's macro-averaged F1 over the labels must reach this"
    )
    max_quantization_drop: float = option(
        default=0.005,
        help="quality gate: int8 test accuracy and macro-F1 may each be at most this far below ONNX fp32 "
        "(0.005 = 0.5 points)",
    )
    promote: bool = option(default=True, help="publish the bundle but leave OUT/current.json as it is")
    refit: bool | None = option(
        default=None,
        help="after choosing the epoch count on the validation split, train again from scratch on all "
        "training reviews (validation included) for that many epochs; --no-refit keeps the model of the "
        f"best validation epoch (default: {_per_architecture('refit')})",
    )
    model_options: dict[str, Any] = option(
        default_factory=dict,
        flag="--set",
        help="override a model option (repeatable); options and their defaults per architecture: "
        + _model_option_defaults(),
    )
    progress: bool = option(default=True, help="no progress bars")

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise OptionError("arch", f"must be one of {', '.join(ARCHITECTURES)}, got {self.arch!r}")
        defaults = _TRAINING_DEFAULTS[self.arch]
        self._set("data", _text("data", self.data))
        if self.data_sha256 is not None:
            if not isinstance(self.data_sha256, str) or not _SHA256.fullmatch(self.data_sha256):
                raise OptionError("data_sha256", f"must be 64 hexadecimal digits, got {self.data_sha256!r}")
            self._set("data_sha256", self.data_sha256.lower())
        self._set("cache_dir", Path(_text("cache_dir", self.cache_dir)))
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise OptionError("cache_dir", f"must be a folder, but {self.cache_dir} is a file")
        self._set("out", _text("out", self.out))
        try:
            check_url(self.out)
        except StorageError:
            raise OptionError("out", f"must be a folder or s3://bucket/prefix, got {self.out!r}") from None
        self._set("epochs", _integer("epochs", _or_default(self.epochs, defaults.epochs), at_least=1))
        learning_rate = _number("learning_rate", _or_default(self.learning_rate, defaults.learning_rate))
        if not learning_rate > 0:
            raise OptionError("learning_rate", f"must be greater than 0, got {learning_rate}")
        self._set("learning_rate", learning_rate)
        self._set("batch_size", _integer("batch_size", _or_default(self.batch_size, defaults.batch_size), at_least=1))
        self._set("seed", _integer("seed", self.seed, at_least=0, below=_MAX_SEED))
        if self.device not in DEVICES:
            raise OptionError("device", f"must be one of {', '.join(DEVICES)}, got {self.device!r}")
        self._set("validation_fraction", _fraction("validation_fraction", self.validation_fraction, ends=False))
        for name in ("sentence_crops", "window_crops", "unlabelled_reviews", "calibration_opinions"):
            self._set(name, _integer(name, getattr(self, name), at_least=0))
        self._set("window_words", _integer("window_words", self.window_words, at_least=1))
        self._set("crop_smoothing", _fraction("crop_smoothing", self.crop_smoothing, ends=True))
        for name in ("crop_weight", "lexicon_weight", "lexicon_counts", "distill_weight"):
            value = _number(name, getattr(self, name))
            if value < 0:
                raise OptionError(name, f"must be at least 0, got {value}")
            self._set(name, value)
        if self.test_data is not None:
            self._set("test_data", _text("test_data", self.test_data))
            if not self.labelled:
                raise OptionError("test_data", "is for a labelled dataset (.csv or .jsonl --data) only")
            if not is_labelled_source(self.test_data):
                raise OptionError("test_data", f"must be a .csv or .jsonl file, got {self.test_data!r}")
        for name in ("text_column", "label_column"):
            self._set(name, _text(name, getattr(self, name)).strip())
        if self.text_column == self.label_column:
            raise OptionError("label_column", f"must differ from --text-column, both are {self.text_column!r}")
        self._set("test_fraction", _fraction("test_fraction", self.test_fraction, ends=False))
        if self.min_accuracy is None:
            self._set("min_accuracy", 0.0 if self.labelled else IMDB_MIN_ACCURACY)
        self._set("min_accuracy", _fraction("min_accuracy", self.min_accuracy, ends=True))
        self._set("min_macro_f1", _fraction("min_macro_f1", self.min_macro_f1, ends=True))
        self._set("max_quantization_drop", _fraction("max_quantization_drop", self.max_quantization_drop, ends=True))
        self._set("refit", _or_default(self.refit, defaults.refit))
        for name in ("promote", "refit", "distill", "short_text_lexicon", "class_weights", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(name, f"must be True or False, got {getattr(self, name)!r}")
        self._set("model_options", _model_options(self.arch, self.model_options))

    @property
    def labelled(self) -> bool:
        """Whether --data is a labelled dataset of the user's (CSV or JSONL), not the IMDB archive."""
        return is_labelled_source(self.data)

    def model_config(self) -> Any:
        """The architecture's ``Config`` with the ``--set`` overrides."""
        return models.load(self.arch).Config(**self.model_options)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # frozen: values are set once, here


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _text(name: str, value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise OptionError(name, f"must be a non-empty text, got {value!r}")
    return value


def _integer(name: str, value: Any, *, at_least: int, below: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(name, f"must be an integer, got {value!r}")
    if value < at_least:
        raise OptionError(name, f"must be at least {at_least}, got {value}")
    if below is not None and value >= below:
        raise OptionError(name, f"must be below {below}, got {value}")
    return value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise OptionError(name, f"must be a finite number, got {value!r}")
    return float(value)


def _fraction(name: str, value: Any, *, ends: bool) -> float:
    """A number from 0 to 1; ``ends``: 0 and 1 themselves allowed."""
    value = _number(name, value)
    if ends and not 0 <= value <= 1:
        raise OptionError(name, f"must be from 0 to 1, got {value}")
    if not ends and not 0 < value < 1:
        raise OptionError(name, f"must be between 0 and 1 (both excluded), got {value}")
    return value


def _model_options(arch: str, given: Any) -> dict[str, Any]:
    """``--set`` overrides, each converted to the type of the architecture's own default and the
    whole configuration built once, so that a bad value fails here and not after loading the data."""
    if not isinstance(given, Mapping):
        raise OptionError("model_options", f"must be a mapping of model options, got {given!r}")
    config_type = models.load(arch).Config
    fields = {field.name: field for field in dataclasses.fields(config_type)}
    typed: dict[str, Any] = {}
    for key, value in given.items():
        if key not in fields:
            raise OptionError("model_options", f"must name an option of {arch} ({', '.join(fields)}), got {key!r}")
        typed[key] = _model_option_value(key, value, fields[key].default)
    try:
        config_type(**typed).preprocess_config(DEFAULT_LABELS)
    except ValueError as error:
        raise OptionError("model_options", str(error)) from None
    return typed


def _model_option_value(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise OptionError("model_options", f"{key} must be true or false, got {value!r}")
    if isinstance(default, tuple):
        parts = value.split(",") if isinstance(value, str) else value
        if isinstance(parts, (list, tuple)):
            try:
                return tuple(_model_option_value(key, part, 0) for part in parts)
            except OptionError:
                pass
        raise OptionError("model_options", f"{key} must be integers separated by commas, got {value!r}")
    kind = type(default)
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    elif not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else kind):
        return kind(value)
    expected = "an integer" if kind is int else f"a {kind.__name__}"
    raise OptionError("model_options", f"{key} must be {expected}, got {value!r}")
