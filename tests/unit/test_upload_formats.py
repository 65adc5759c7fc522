"""Uploaded lines -> records: one per input line (CSV: per data row), errors at their position."""

import io
import json
import tracemalloc

import pytest

from functions.upload_formats import (
    EMPTY_LINE,
    MAX_LINE_BYTES,
    NO_TEXT,
    NOT_UTF8,
    TOO_LONG_LINE,
    TOO_LONG_TEXT,
    CsvColumns,
    Record,
    UnreadableHeaderError,
    csv_columns,
    csv_records,
    format_of,
    jsonl_records,
    physical_lines,
    txt_records,
)

pytestmark = pytest.mark.unit


def stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


@pytest.mark.parametrize(
    "key, expected",
    [("uploads/a.jsonl", "jsonl"), ("uploads/b.CSV", "csv"), ("uploads/c.txt", "txt"), ("uploads/d.json", None),
     ("uploads/e", None), ("uploads/dir.csv/f", None)],
)  # fmt: skip
def test_format_follows_the_extension(key, expected):
    assert format_of(key) == expected


def test_jsonl_keeps_ids_and_marks_each_bad_line_in_place():
    lines = [
        json.dumps({"id": 7, "text": "fine"}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"id": "x"}),
        json.dumps({"text": 5}),
        "",
        json.dumps({"text": "y" * 20_001}),
        json.dumps({"text": "no id"}),
    ]
    records = list(jsonl_records(stream(("\n".join(lines) + "\n").encode()), at_file_start=True))

    assert records == [
        Record(id=7, text="fine"),
        Record(error="the line is not valid JSON"),
        Record(error="the line is not a JSON object"),
        Record(id="x", error=NO_TEXT),
        Record(error=NO_TEXT),
        Record(error=EMPTY_LINE),
        Record(error=TOO_LONG_TEXT),
        Record(text="no id"),
    ]


def test_a_line_that_is_not_utf8_is_an_error_record_not_the_end_of_the_file():
    data = b'{"text": "before"}\n{"text": "\xff\xfe"}\n{"text": "after"}'

    assert [r.error or r.text for r in jsonl_records(stream(data), at_file_start=True)] == ["before", NOT_UTF8, "after"]


def test_a_byte_order_mark_is_ignored_at_the_start_of_a_file_only():
    data = "\ufeffhello\n".encode()

    assert list(txt_records(stream(data), at_file_start=True)) == [Record(text="hello")]
    assert list(txt_records(stream(data), at_file_start=False)) == [Record(text="\ufeffhello")]


def test_txt_takes_each_line_as_a_text_and_handles_crlf():
    data = b"good film\r\n\r\n   \nlast line without newline"

    assert list(txt_records(stream(data), at_file_start=True)) == [
        Record(text="good film"),
        Record(error=EMPTY_LINE),
        Record(error=EMPTY_LINE),
        Record(text="last line without newline"),
    ]


def test_csv_reads_quoted_commas_quotes_and_newlines_as_one_row():
    columns = csv_columns(b"id,rating,text\n")
    data = b'1,5,"great, ""really"" great\nsecond line"\n2,1,plain\n'

    assert columns == CsvColumns(text=2, id=0)
    assert list(csv_records(stream(data), columns)) == [
        Record(id="1", text='great, "really" great\nsecond line'),
        Record(id="2", text="plain"),
    ]


def test_csv_rows_without_a_text_or_with_a_bad_encoding_are_errors_in_place():
    columns = CsvColumns(text=1, id=0)
    data = b"1,fine\n2\n\n3,\xff bad\n4,ok\n"

    assert [(r.id, r.error or r.text) for r in csv_records(stream(data), columns)] == [
        ("1", "fine"), ("2", NO_TEXT), (None, EMPTY_LINE), ("3", NOT_UTF8), ("4", "ok"),
    ]  # fmt: skip


def test_a_csv_header_without_a_text_column_is_refused():
    with pytest.raises(UnreadableHeaderError, match="text"):
        csv_columns(b"id,review\n")


def test_the_header_names_are_matched_case_blind_and_after_a_bom():
    assert csv_columns("\ufeffID, Text \n".encode()) == CsvColumns(text=1, id=0)


def test_an_endless_line_is_skipped_without_being_held_in_memory():
    huge = b"x" * (96 * MAX_LINE_BYTES)  # 24 MiB on one line
    source = stream(b"first\n" + huge + b"\nlast\n")
    tracemalloc.start()
    lines = list(physical_lines(source))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert lines == [b"first\n", None, b"last\n"]
    assert peak < len(huge) / 4  # a few read buffers, not the line
    assert list(txt_records(stream(huge), at_file_start=True)) == [Record(error=TOO_LONG_LINE)]
