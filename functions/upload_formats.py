"""Uploaded files as a stream of records: JSONL, CSV (header with a ``text`` column) and TXT.

A file is read line by line from a byte stream, never whole. Every input line (every data
row of a CSV, whose quoted fields may span lines) gives one `Record`: a text to classify, or
the error that makes it unusable, at its position. Nothing here raises for bad content.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from functions.contract import MAX_TEXT_CHARS

FORMATS = ("jsonl", "csv", "txt")
# Longer than any valid line: 20,000 characters JSON-escaped as \uXXXX, plus an id.
MAX_LINE_BYTES = 256 * 1024
_READ_BYTES = 1024 * 1024
_BOM = "\ufeff"
# How every CSV here is read (the header, the data rows, and where `upload_chunking` cuts).
CSV_DIALECT = "excel"

NOT_UTF8 = "the line is not valid UTF-8"
TOO_LONG_LINE = f"the line is longer than {MAX_LINE_BYTES} bytes"
EMPTY_LINE = "the line is empty"
NO_TEXT = "the line has no text"
TOO_LONG_TEXT = f"the text is longer than {MAX_TEXT_CHARS} characters"


class UnreadableHeaderError(Exception):
    """A CSV file whose header cannot be used (no ``text`` column, not UTF-8, too long)."""


class Record(NamedTuple):  # a tuple: one is made per line, and a dataclass costs more to make
    id: Any = None  # the input's id, when it has one
    text: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CsvColumns:
    text: int
    id: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"text": self.text, "id": self.id}


def format_of(key: str) -> str | None:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    return extension if extension in FORMATS else None


class _Raw(io.RawIOBase):
    """A botocore body (anything with ``read(size)``) as a raw stream for `io.BufferedReader`."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def physical_lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """The lines of a byte stream with their endings; None for a line over `MAX_LINE_BYTES`
    (its bytes are skipped, never held)."""
    reader = io.BufferedReader(_Raw(stream), buffer_size=_READ_BYTES)
    while line := reader.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = reader.readline(_READ_BYTES)
            yield None
        else:
            yield line


def _checked_text(text: Any) -> tuple[str | None, str | None]:
    if not isinstance(text, str) or not text.strip():
        return None, NO_TEXT
    if len(text) > MAX_TEXT_CHARS:
        return None, TOO_LONG_TEXT
    return text, None


def _decoded_lines(stream: BinaryIO, at_file_start: bool) -> Iterator[tuple[str, str | None]]:
    """Each line as text without its ending, or "" and why it cannot be read."""
    for number, line in enumerate(physical_lines(stream)):
        if line is None:
            yield "", TOO_LONG_LINE
            continue
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield "", NOT_UTF8
            continue
        if at_file_start and number == 0:
            text = text.removeprefix(_BOM)
        yield text, None if text.strip() else EMPTY_LINE


def txt_records(stream: BinaryIO, *, at_file_start: bool) -> Iterator[Record]:
    for line, error in _decoded_lines(stream, at_file_start):
        if error is not None:
            yield Record(error=error)
        else:
            text, error = _checked_text(line)
            yield Record(text=text, error=error)


def jsonl_records(stream: BinaryIO, *, at_file_start: bool) -> Iterator[Record]:
    for line, error in _decoded_lines(stream, at_file_start):
        if error is not None:
            yield Record(error=error)
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield Record(error="the line is not valid JSON")
            continue
        if not isinstance(value, dict):
            yield Record(error="the line is not a JSON object")
            continue
        text, error = _checked_text(value.get("text"))
        yield Record(id=value.get("id"), text=text, error=error)


def csv_columns(header: bytes) -> CsvColumns:
    """The positions of ``text`` and ``id`` in a CSV header row (names compared case-blind)."""
    try:
        row = next(csv.reader([header.decode("utf-8").removeprefix(_BOM)], dialect=CSV_DIALECT), [])
    except (UnicodeDecodeError, csv.Error):
        raise UnreadableHeaderError("the CSV header is not valid UTF-8 CSV") from None
    names = [name.strip().lower() for name in row]
    if "text" not in names:
        raise UnreadableHeaderError("the CSV header has no 'text' column")
    return CsvColumns(text=names.index("text"), id=names.index("id") if "id" in names else None)


def csv_line_text(line: bytes | None) -> tuple[str, str | None]:
    """What the CSV parser reads for one physical line (see `physical_lines`), and why the line
    cannot be used, if it cannot: an over-long line reads as an empty line, and a line that is
    not UTF-8 with replacement characters, so that its quotes and commas still count."""
    if line is None:
        return "\n", TOO_LONG_LINE
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError:
        return line.decode("utf-8", "replace"), NOT_UTF8


def csv_records(stream: BinaryIO, columns: CsvColumns) -> Iterator[Record]:
    """The data rows of a CSV stream that starts after the header."""
    problems: dict[int, str] = {}  # physical line number -> why it could not be read

    def text_lines() -> Iterator[str]:
        for number, line in enumerate(physical_lines(stream), start=1):
            text, problem = csv_line_text(line)
            if problem is not None:
                problems[number] = problem
            yield text

    reader = csv.reader(text_lines(), dialect=CSV_DIALECT)
    last_line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            last_line = reader.line_num
            yield Record(error="the row is not valid CSV")
            continue
        spanned = [problems.pop(n) for n in range(last_line + 1, reader.line_num + 1) if n in problems]
        last_line = reader.line_num
        identifier = row[columns.id] if columns.id is not None and columns.id < len(row) else None
        if spanned:
            yield Record(id=identifier, error=spanned[0])
        elif not row:
            yield Record(error=EMPTY_LINE)
        else:
            text, error = _checked_text(row[columns.text] if columns.text < len(row) else None)
            yield Record(id=identifier, text=text, error=error)


def records(stream: BinaryIO, fmt: str, *, at_file_start: bool, columns: CsvColumns | None = None) -> Iterator[Record]:
    if fmt == "csv":
        if columns is None:
            raise ValueError("a CSV stream needs the columns of its header")
        return csv_records(stream, columns)
    if fmt == "jsonl":
        return jsonl_records(stream, at_file_start=at_file_start)
    return txt_records(stream, at_file_start=at_file_start)
