"""Where to cut a large upload into chunks: at record starts, as the parser in `upload_formats`
reads the file, so that the chunks classified apart give what the whole file gives.

A line file (JSONL, TXT) is cut after a newline near each step; only a small window after each
step is read. A CSV needs one sequential pass, since a newline inside a quoted field starts no
record: `CsvRecordStarts` follows the parser exactly by letting the `csv` module itself read
every line that holds a quote, and skips the lines between (a line without a quote that starts
a record also ends one).
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterator
from typing import BinaryIO

from functions.upload_formats import CSV_DIALECT, MAX_LINE_BYTES, csv_line_text

_PROBE_BYTES = 64 * 1024
_SCAN_BYTES = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"


def line_cuts(read: Callable[[int, int], bytes], data_start: int, size: int, chunk_bytes: int) -> list[int]:
    """Where to cut a file of lines into chunks of about ``chunk_bytes``: the first line start
    at or after each step. ``read(start, end)`` gives those bytes; only a small window after
    each step is read."""
    cuts: list[int] = []
    target = data_start + chunk_bytes
    while target < size:
        position = target - 1  # a newline just before the step makes the step a line start
        while position < size:
            window = read(position, min(position + _PROBE_BYTES, size))
            newline = window.find(b"\n")
            if newline >= 0:
                position += newline + 1
                break
            position += len(window)
        if position >= size:
            break
        cuts.append(position)
        target = position + chunk_bytes
    return cuts


def csv_record_cuts(stream: BinaryIO, data_start: int, size: int, chunk_bytes: int) -> list[int]:
    """Where to cut a CSV (``stream`` holds its bytes from ``data_start``, a record start) into
    chunks of about ``chunk_bytes``: the first record start at or after each step."""
    starts = CsvRecordStarts(stream, data_start)
    cuts: list[int] = []
    target = data_start + chunk_bytes
    while target < size and (cut := starts.first_at_or_after(target)) is not None and cut < size:
        cuts.append(cut)
        target = cut + chunk_bytes
    return cuts


def csv_header_end(head: bytes) -> int | None:
    """Where the first record of a CSV that begins with ``head`` ends, if it ends inside it."""
    # the header is parsed without its byte order mark, so a quote just after one opens a field
    start = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    end = CsvRecordStarts(_Bytes(head, start), start).first_at_or_after(start + 1)
    return end if end is not None and end <= len(head) else None


class _Bytes:
    """``bytes[start:]`` as a stream, without copying them."""

    def __init__(self, data: bytes, start: int) -> None:
        self._view, self._position = memoryview(data), start

    def read(self, size: int) -> bytes:
        block = self._view[self._position : self._position + size].tobytes()
        self._position += len(block)
        return block


class CsvRecordStarts:
    """The record starts of CSV bytes read from ``stream``, which begins at ``start`` (a record
    start of the file), in one forward pass that holds at most about one line.

    The `csv` module (the pipeline's dialect) reads each line that holds a quote, fed exactly as
    `upload_formats.csv_records` feeds it, so quoted fields, ``""`` escapes, a quote in the middle
    of an unquoted field, CR and CRLF, over-long lines, bad UTF-8 and the field size limit all
    count as they do there. A line without a quote that starts a record ends it too, whatever it
    holds, so those lines are skipped with `bytes.find`.
    """

    def __init__(self, stream: BinaryIO, start: int) -> None:
        self._stream = stream
        self._buffer = b""
        self._buffer_start = start  # the file offset of _buffer[0]
        self.position = start  # a record start; nothing before it is needed again
        # one reader for the whole pass: between two records it holds no state, and its lines
        # start wherever `position` has moved meanwhile
        self._records = csv.reader(self._lines(), dialect=CSV_DIALECT)

    def first_at_or_after(self, offset: int) -> int | None:
        """The first record start at or after ``offset``; None when the data ends before one."""
        while self.position < offset:
            at = self.position - self._buffer_start
            quote = self._buffer.find(b'"', at)
            # every line before the one with the quote holds no quote: each ends a record
            quote_line = self._buffer.rfind(b"\n", at, len(self._buffer) if quote < 0 else quote) + 1
            quote_line = max(at, quote_line)
            step = offset - 1 - self._buffer_start  # a newline here makes `offset` a record start
            if step < quote_line:
                self.position = self._buffer_start + self._buffer.find(b"\n", step, quote_line) + 1
                return self.position
            self.position = self._buffer_start + quote_line
            if quote >= 0:
                self._read_record()
            elif len(self._buffer) - quote_line > MAX_LINE_BYTES:
                self._skip_line()  # the parser reads an over-long line as an empty one
            elif not self._read_more():
                return None
        return self.position

    def _read_more(self) -> bool:
        """Appends the next block, dropping what is before `position`; False at the end."""
        block = self._stream.read(_SCAN_BYTES)
        if not block:
            return False
        self._buffer = self._buffer[self.position - self._buffer_start :] + block
        self._buffer_start = self.position
        return True

    def _skip_line(self) -> None:
        while (newline := self._buffer.find(b"\n", self.position - self._buffer_start)) < 0:
            self.position = self._buffer_start + len(self._buffer)
            if not self._read_more():
                return
        self.position = self._buffer_start + newline + 1

    def _read_record(self) -> None:
        """Moves `position` past the record that starts there, as the csv module reads it."""
        # on csv.Error the parser drops the rest of the line and starts a record on the next one
        with contextlib.suppress(csv.Error, StopIteration):
            next(self._records)

    def _lines(self) -> Iterator[str]:
        """The lines from `position` as the parser reads them (`upload_formats.physical_lines`),
        each moving `position` past itself before the parser sees it."""
        while True:
            at = self.position - self._buffer_start
            searched = at
            while (newline := self._buffer.find(b"\n", searched)) < 0 and len(self._buffer) - at <= MAX_LINE_BYTES:
                searched = len(self._buffer)
                if not self._read_more():
                    break
                searched -= at
                at = 0
            if newline < 0 and len(self._buffer) - at <= MAX_LINE_BYTES:  # the data ends in this line
                if at == len(self._buffer):
                    return
                self.position = self._buffer_start + len(self._buffer)
                yield csv_line_text(self._buffer[at:])[0]
                return
            if newline >= 0 and newline - at <= MAX_LINE_BYTES:
                self.position = self._buffer_start + newline + 1
                yield csv_line_text(self._buffer[at : newline + 1])[0]
            else:
                self._skip_line()
                yield csv_line_text(None)[0]
