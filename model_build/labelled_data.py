"""A labelled dataset of a user's own: CSV or JSONL with a text and a label column.

    python -m model_build.train --data tickets.csv --label-column category --out ...
    python -m model_build.train --data s3://bucket/train.jsonl --test-data s3://bucket/test.jsonl --out ...

A source is a local path, ``s3://bucket/key`` (boto3, so ``AWS_ENDPOINT_URL`` is honoured) or an
http(s) URL (downloaded once into the cache, like the IMDB archive); its extension says its
format: ``.csv`` (a header row naming the columns; quoted fields may hold commas, quotes and
newlines, as in uploads) or ``.jsonl`` / ``.ndjson`` (one JSON object per line; blank lines are
skipped). Labels are strings and keep the user's spelling (a JSONL integer label is its
decimal spelling); the label set is the training data's, sorted (numerically when every label is
an integer). Without a separate test set, a seeded split stratified by label is held out.

Anything wrong with the data ends in one `DataSourceError` whose message names the file, the
line and the problem: a missing column, an empty text or label, text that is not UTF-8, a file
that is not what its extension says, a single label, a label with too few examples to split, a
test label the training data does not have.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from model_build.data import Dataset, DataSourceError, Split, download, stratified_split

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# a label needs one example in each of train, validation and (held out here) test
MIN_EXAMPLES_PER_LABEL = 3
# the most common label this many times as frequent as the rarest: the data is called imbalanced
IMBALANCE_WARNING_RATIO = 3.0
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # csv's default (131,072 characters) is below a long text
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Columns:
    text: str = "text"
    label: str = "label"


DEFAULT_COLUMNS = Columns()


@dataclass(frozen=True)
class LabelledFile:
    source: str
    format: str
    texts: list[str]
    labels: list[str]
    sha256: str  # of the file's bytes


def is_labelled_source(source: str) -> bool:
    """Whether ``source`` names a CSV or JSONL file (else it is the IMDB archive, folder or URL)."""
    return format_of(source) is not None


def format_of(source: str) -> str | None:
    path = urlparse(source).path if "://" in source else source
    return FORMATS.get(Path(path).suffix.lower())


def load_labelled(
    source: str,
    *,
    test_source: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    test_fraction: float = 0.2,
    seed: int = 0,
    cache_dir: Path,
    expected_sha256: str | None = None,
    progress: bool = True,
) -> Dataset:
    """The training data of ``source`` and the test data of ``test_source`` (or a stratified,
    seeded ``test_fraction`` of ``source`` held out), with the label set of the training data."""
    train_file = read_labelled(source, columns, cache_dir=cache_dir, expected_sha256=expected_sha256, progress=progress)
    test_file = (
        None if test_source is None else read_labelled(test_source, columns, cache_dir=cache_dir, progress=progress)
    )
    labels = label_set(train_file)
    minimum = MIN_EXAMPLES_PER_LABEL if test_file is None else MIN_EXAMPLES_PER_LABEL - 1
    counts = Counter(train_file.labels)
    scarce = sorted((label for label in labels if counts[label] < minimum), key=labels.index)
    if scarce:
        listed = ", ".join(f"{label!r} ({counts[label]})" for label in scarce)
        held_out = "a validation set" if test_file is not None else "a validation and a test set"
        raise DataSourceError(
            f"{source}: too few examples to split off {held_out} (at least {minimum} per label needed): {listed}"
        )
    index = {label: position for position, label in enumerate(labels)}
    everything = Split(train_file.texts, np.asarray([index[label] for label in train_file.labels], dtype=np.int64))
    if test_file is None:
        train, test = stratified_split(everything, test_fraction, seed)
        test_described: dict[str, Any] = {"held_out": {"fraction": test_fraction, "seed": seed, "stratified": True}}
    else:
        unknown = sorted(set(test_file.labels) - set(labels))
        if unknown:
            raise DataSourceError(
                f"{test_source}: labels the training data does not have: {', '.join(map(repr, unknown))}"
            )
        train = everything
        test = Split(test_file.texts, np.asarray([index[label] for label in test_file.labels], dtype=np.int64))
        test_described = {"source": test_source, "format": test_file.format, "sha256": test_file.sha256}
    train_counts = _counts(train, labels)
    facts = {
        "name": f"labelled dataset ({train_file.format.upper()})",
        "format": train_file.format,
        "columns": {"text": columns.text, "label": columns.label},
        "test_set": test_described,
        "label_counts": {"train": train_counts, "test": _counts(test, labels)},
        "imbalance_ratio": round(max(train_counts.values()) / min(train_counts.values()), 3),
        "duplicates": {
            "within_train": len(train) - len({_duplicate_key(text) for text in train.texts}),
            "test_texts_also_in_train": duplicates_between(train.texts, test.texts),
        },
    }
    sha256 = train_file.sha256 if test_file is None else _combined(train_file.sha256, test_file.sha256)
    return Dataset(train=train, test=test, source=source, sha256=sha256, labels=labels, facts=facts)


def read_labelled(
    source: str, columns: Columns, *, cache_dir: Path, expected_sha256: str | None = None, progress: bool = True
) -> LabelledFile:
    """The (text, label) pairs of one CSV or JSONL source, checked."""
    fmt = format_of(source)
    if fmt is None:
        raise DataSourceError(f"{source}: a labelled dataset must end in {', '.join(FORMATS)}")
    data = _fetch(source, cache_dir, expected_sha256, progress)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise DataSourceError(f"{source} has sha256 {digest}, expected {expected_sha256}")
    text = _decoded(source, data, fmt)
    texts, labels = (_csv_rows if fmt == "csv" else _jsonl_rows)(source, text, columns)
    if not texts:
        raise DataSourceError(f"{source} holds no examples")
    return LabelledFile(source, fmt, texts, labels, digest)


def label_set(file: LabelledFile) -> tuple[str, ...]:
    """The labels of ``file``, sorted (as numbers when every label is an integer)."""
    distinct = set(file.labels)
    if len(distinct) < 2:
        raise DataSourceError(
            f"{file.source} has a single label {next(iter(distinct))!r}: a classifier needs at least two"
        )
    if all(re.fullmatch(r"[+-]?\d+", label) for label in distinct):
        return tuple(sorted(distinct, key=lambda label: (int(label), label)))
    return tuple(sorted(distinct))


def duplicates_between(train_texts: list[str], test_texts: list[str]) -> int:
    """How many test texts also occur among the training texts (case and spacing aside)."""
    seen = {_duplicate_key(text) for text in train_texts}
    return sum(_duplicate_key(text) in seen for text in test_texts)


def class_weights(labels: np.ndarray, classes: int) -> np.ndarray:
    """Per class, ``n / (classes * count)``: every class weighs the same in the loss in all."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    return (len(labels) / (classes * np.maximum(counts, 1.0))).astype(np.float32)


# -- reading ------------------------------------------------------------------------------------


def _fetch(source: str, cache_dir: Path, expected_sha256: str | None, progress: bool) -> bytes:
    if source.startswith("s3://"):
        return _s3_bytes(source)
    if source.startswith(("http://", "https://")):
        return download(source, cache_dir, expected_sha256, progress=progress).read_bytes()
    if "://" in source:
        raise DataSourceError(f"{source}: unsupported scheme (expected a path, s3:// or https://)")
    path = Path(source)
    if not path.is_file():
        raise DataSourceError(f"data source not found: {source}")
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataSourceError(f"cannot read {source}: {error.strerror or error}") from None


def _s3_bytes(source: str) -> bytes:
    parsed = urlparse(source)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise DataSourceError(f"{source}: expected s3://bucket/key")
    import boto3  # only for s3:// sources

    try:
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # boto3 raises several unrelated families
        raise DataSourceError(f"cannot read {source}: {str(error).splitlines()[0]}") from None


def _decoded(source: str, data: bytes, fmt: str) -> str:
    kind = fmt.upper()
    if data.startswith(b"\x1f\x8b"):
        raise DataSourceError(f"{source} is gzip-compressed, not {kind} text (decompress it first)")
    if data.startswith(b"PK\x03\x04"):
        raise DataSourceError(f"{source} is a zip archive, not {kind} text")
    if b"\0" in data[: 1 << 16]:
        raise DataSourceError(f"{source} is binary, not {kind} text (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataSourceError(f"{source} line {line}: not UTF-8 text (byte {error.start})") from None


def _csv_rows(source: str, text: str, columns: Columns) -> tuple[list[str], list[str]]:
    # csv's field limit is process-wide, and serving's upload reader relies on its default: it
    # is raised for this file only
    default_limit = csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        return _csv_rows_within_limit(source, text, columns)
    finally:
        csv.field_size_limit(default_limit)


def _csv_rows_within_limit(source: str, text: str, columns: Columns) -> tuple[list[str], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel")
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise DataSourceError(f"{source} line 1: the header is not valid CSV ({error})") from None
    if not header:
        raise DataSourceError(f"{source} is empty: a CSV needs a header with {columns.text!r} and {columns.label!r}")
    names = [name.strip() for name in header]
    positions = []
    for wanted, flag in ((columns.text, "--text-column"), (columns.label, "--label-column")):
        if wanted not in names:
            shown = ", ".join(repr(name) for name in names[:20])
            if _looks_like_json(header):
                raise DataSourceError(f"{source} is not CSV: its first line looks like JSON (name it .jsonl)")
            raise DataSourceError(f"{source}: the header has no column {wanted!r} (set {flag}); its columns: {shown}")
        positions.append(names.index(wanted))
    text_at, label_at = positions
    texts, labels = [], []
    line = reader.line_num  # the last physical line read
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataSourceError(f"{source} line {reader.line_num}: not valid CSV ({error})") from None
        line, first_line = reader.line_num, line + 1
        if not row or all(not field.strip() for field in row):
            continue  # a blank line
        where = f"{source} line {first_line}"
        if max(text_at, label_at) >= len(row):
            raise DataSourceError(f"{where}: {len(row)} fields, but the header has {len(names)}")
        texts.append(_checked(where, "text", row[text_at]))
        labels.append(_checked(where, "label", row[label_at]))
    return texts, labels


def _looks_like_json(header: list[str]) -> bool:
    return bool(header) and header[0].lstrip().startswith(("{", "["))


def _jsonl_rows(source: str, text: str, columns: Columns) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            value = json.loads(line)
        except ValueError:
            hint = " (is it CSV? name it .csv)" if number == 1 else ""
            raise DataSourceError(f"{where}: not a JSON object{hint}") from None
        if not isinstance(value, dict):
            raise DataSourceError(f"{where}: not a JSON object")
        for wanted, flag in ((columns.text, "--text-column"), (columns.label, "--label-column")):
            if wanted not in value:
                raise DataSourceError(f"{where}: no field {wanted!r} (set {flag})")
        raw_text, raw_label = value[columns.text], value[columns.label]
        if not isinstance(raw_text, str):
            raise DataSourceError(f"{where}: the text must be a string, not {type(raw_text).__name__}")
        if isinstance(raw_label, bool) or not isinstance(raw_label, (str, int)):
            raise DataSourceError(f"{where}: the label must be a string or an integer, not {type(raw_label).__name__}")
        texts.append(_checked(where, "text", raw_text))
        labels.append(_checked(where, "label", str(raw_label)))
    return texts, labels


def _checked(where: str, what: str, value: str) -> str:
    if not value.strip():
        raise DataSourceError(f"{where}: the {what} is empty")
    return value.strip() if what == "label" else value


def _counts(split: Split, labels: tuple[str, ...]) -> dict[str, int]:
    counts = np.bincount(split.labels, minlength=len(labels))
    return {label: int(count) for label, count in zip(labels, counts, strict=True)}


def _duplicate_key(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _combined(*digests: str) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
