"""Cutting a large upload into chunks on record boundaries: chunks parsed apart give exactly the
records of the whole file."""

import csv
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.upload_chunking import csv_header_end, csv_record_cuts, line_cuts
from functions.upload_formats import MAX_LINE_BYTES, TOO_LONG_LINE, CsvColumns, Record, csv_records

pytestmark = pytest.mark.unit

COLUMNS = CsvColumns(text=1, id=0)


def read_from(data: bytes):
    reads = []

    def read(start: int, end: int) -> bytes:
        reads.append(end - start)
        return data[start:end]

    return read, reads


class ShortReads(io.RawIOBase):
    """A stream that answers each read with at most ``most`` bytes, as a network body may."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data, self._most, self._position = data, most, 0

    def read(self, size: int = -1) -> bytes:
        block = self._data[self._position : self._position + min(size, self._most)]
        self._position += len(block)
        return block


def records_of(data: bytes, start: int, end: int) -> list[Record]:
    return list(csv_records(io.BytesIO(data[start:end]), COLUMNS))


def cut_and_parse(data: bytes, chunk_bytes: int, data_start: int = 0, most: int = 1 << 20):
    """The cuts, the records of the whole data and the records of the chunks put together."""
    cuts = csv_record_cuts(ShortReads(data[data_start:], most), data_start, len(data), chunk_bytes)
    edges = [data_start, *cuts, len(data)]
    chunked = [record for start, end in zip(edges, edges[1:], strict=False) for record in records_of(data, start, end)]
    return cuts, records_of(data, data_start, len(data)), chunked


# -- line files ---------------------------------------------------------------------------------


def test_lines_are_cut_at_line_starts_near_every_step():
    data = b"".join(f"line {i} {'x' * (i % 37)}\n".encode() for i in range(2000))
    read, reads = read_from(data)

    cuts = line_cuts(read, 0, len(data), 4096)

    assert cuts and all(data[cut - 1 : cut] == b"\n" for cut in cuts)
    edges = [0, *cuts, len(data)]
    assert all(4096 <= end - start < 4096 + 60 for start, end in zip(edges, edges[1:-1], strict=False))
    assert len(reads) <= len(cuts) + 1  # one small probe per step, not a scan


def test_a_file_within_one_step_is_not_cut():
    read, _ = read_from(b"a\nb\n")

    assert line_cuts(read, 0, 4, 4096) == []


def test_a_line_longer_than_a_step_is_never_split():
    data = b"short\n" + b"y" * 10_000 + b"\nend\n"
    read, _ = read_from(data)

    assert line_cuts(read, 0, len(data), 1000) == [len(data) - 4]


# -- CSV ------------------------------------------------------------------------------------------


def random_csv(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "text"])
    pieces = ["good", "bad", 'a "quote"', "comma, inside", "new\nline", "x" * 50]
    for index in range(rows):
        writer.writerow([index, " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))])
    return buffer.getvalue().encode()


@pytest.mark.parametrize("seed", range(3))
def test_csv_cuts_never_fall_inside_a_quoted_field(seed):
    data = random_csv(3000, seed)
    header_end = data.index(b"\n") + 1

    cuts, whole, chunked = cut_and_parse(data, 5000, data_start=header_end)

    assert len(cuts) > 10
    assert [int(record.id) for record in chunked] == list(range(3000))
    assert chunked == whole


def test_a_quote_inside_an_unquoted_field_does_not_open_a_quoted_field():
    # the csv module reads the quote of `12" pizza` as a character: the quoted field opens on the
    # next line, and its newline starts no record
    data = b'5,a 12" pizza\n6,"loved it,\ntruly"\n7,fine\n'

    cuts, whole, chunked = cut_and_parse(data, 1)

    assert cuts == [data.index(b"6,"), data.index(b"7,")]
    assert chunked == whole == [Record("5", 'a 12" pizza'), Record("6", "loved it,\ntruly"), Record("7", "fine")]


def test_a_quote_after_a_closed_quoted_field_is_a_character():
    data = b'1,"great"ish" film\n2,"two\nlines"\n3,end\n'

    cuts, whole, chunked = cut_and_parse(data, 1)

    assert cuts == [data.index(b"2,"), data.index(b"3,")]
    assert chunked == whole


def test_escaped_quotes_crlf_and_a_lone_cr_inside_quotes_start_no_record():
    data = b'1,"say ""hi"",\r\nthen\rgo"\r\n2,"""quoted"" start"\r\n\r\n3,last\r\n'

    cuts, whole, chunked = cut_and_parse(data, 1)

    empty_line = data.index(b'start"\r\n') + len(b'start"\r\n')
    assert cuts == [data.index(b"2,"), empty_line, data.index(b"3,")]
    assert chunked == whole and len(whole) == 4


def test_a_quote_in_an_over_long_line_counts_for_nothing():
    # the parser reads an over-long line as an empty one, so its quote opens no field
    data = b'1,"' + b"y" * (MAX_LINE_BYTES + 10) + b'\n2,"a\nb"\n3,c\n'

    cuts, whole, chunked = cut_and_parse(data, 1, most=4096)

    assert cuts == [data.index(b"2,"), data.index(b"3,")]
    assert chunked == whole and whole[0].error == TOO_LONG_LINE


def test_an_unclosed_quote_ends_where_the_field_size_limit_stops_the_parser():
    # the csv module gives up on a field over csv.field_size_limit() characters and starts a
    # record on the next line: the lines after that are records again
    line = "x" * 99 + "\n"
    lines = 2 * csv.field_size_limit() // len(line)
    data = ('1,"unclosed\n' + line * lines + "2,after\n").encode()

    cuts, whole, chunked = cut_and_parse(data, 1000, most=5000)

    assert cuts and whole[-1] == Record("2", "after")
    assert chunked == whole


def test_the_header_ends_where_the_parser_ends_its_first_record():
    data = b'id,text,note 5" tall\n1,a "quoted\nfield"\n'

    assert csv_header_end(data) == data.index(b"1,")
    assert csv_header_end(b'\xef\xbb\xbf"id","te\nxt"\n1,a\n') == len(b'\xef\xbb\xbf"id","te\nxt"\n')
    assert csv_header_end(b"id,text") is None


# What CSV parsers disagree on: stray and escaped quotes, quoted newlines, CR, CRLF, empty lines,
# multi-byte and invalid UTF-8, NUL.
CHARACTERS = [b"a", b"5", b" ", b'"', "é".encode(), "😀".encode(), b"\xff", b"\0", b"\r"]
unquoted_fields = st.lists(st.sampled_from(CHARACTERS), max_size=6).map(b"".join)
quoted_fields = st.builds(
    lambda content, closed, after: b'"' + content + (b'"' + after if closed else b""),
    st.lists(st.sampled_from([*CHARACTERS, b'""', b",", b"\n", b"\r\n"]), max_size=8).map(b"".join),
    st.booleans(),
    unquoted_fields,  # whatever follows a closing quote before the next comma
)
rows = st.builds(
    lambda fields, ending: b",".join(fields) + ending,
    st.lists(st.one_of(unquoted_fields, quoted_fields), max_size=4),
    st.sampled_from([b"\n", b"\r\n", b"\r\r\n", b"\n\n"]),
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(rows, max_size=12).map(b"".join),
    unterminated=st.booleans(),
    chunk_bytes=st.integers(min_value=1, max_value=40),
    most=st.integers(min_value=1, max_value=64),
)
def test_chunks_parse_to_the_records_of_the_whole_file(body, unterminated, chunk_bytes, most):
    data = b"id,text\n" + (body.rstrip(b"\r\n") if unterminated else body)

    cuts, whole, chunked = cut_and_parse(data, chunk_bytes, data_start=8, most=most)

    assert cuts == sorted(set(cuts)) and all(8 < cut < len(data) for cut in cuts)
    assert chunked == whole
