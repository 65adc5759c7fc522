"""Cutting a large upload into chunks on record boundaries, and adding the chunks' tallies up."""

import csv
import io
import random

import pytest

from functions.upload_pipeline import MAX_ERROR_DETAILS, Tally, csv_record_cuts, line_cuts

pytestmark = pytest.mark.unit


def read_from(data: bytes):
    reads = []

    def read(start: int, end: int) -> bytes:
        reads.append(end - start)
        return data[start:end]

    return read, reads


def test_lines_are_cut_at_line_starts_near_every_step():
    data = b"".join(f"line {i} {'x' * (i % 37)}\n".encode() for i in range(2000))
    read, reads = read_from(data)

    cuts = line_cuts(read, 0, len(data), 4096)

    assert cuts and all(data[cut - 1 : cut] == b"\n" for cut in cuts)
    edges = [0, *cuts, len(data)]
    assert all(4096 <= end - start < 4096 + 60 for start, end in zip(edges, edges[1:-1]))
    assert len(reads) <= len(cuts) + 1  # one small probe per step, not a scan


def test_a_file_within_one_step_is_not_cut():
    read, _ = read_from(b"a\nb\n")

    assert line_cuts(read, 0, 4, 4096) == []


def test_a_line_longer_than_a_step_is_never_split():
    data = b"short\n" + b"y" * 10_000 + b"\nend\n"
    read, _ = read_from(data)

    assert line_cuts(read, 0, len(data), 1000) == [len(data) - 4]


def random_csv(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "text"])
    for index in range(rows):
        words = [rng.choice(["good", "bad", 'a "quote"', "comma, inside", "new\nline", "x" * 50]) for _ in range(rng.randint(1, 12))]
        writer.writerow([index, " ".join(words)])
    return buffer.getvalue().encode()


@pytest.mark.parametrize("seed", range(3))
def test_csv_cuts_never_fall_inside_a_quoted_field(seed):
    data = random_csv(3000, seed)
    header_end = data.index(b"\n") + 1

    cuts = csv_record_cuts(io.BytesIO(data[header_end:]), header_end, len(data), 5000)

    edges = [header_end, *cuts, len(data)]
    rows = []
    for start, end in zip(edges, edges[1:]):
        rows.extend(csv.reader(io.StringIO(data[start:end].decode(), newline="")))
    assert len(cuts) > 10
    assert [int(row[0]) for row in rows] == list(range(3000))


def test_tallies_of_chunks_add_up_with_file_line_numbers():
    first, second = Tally(), Tally()
    first.lines, first.classified = 3, 2
    first.add_error(2, "bad", "id-2")
    first.labels["positive"] = 2
    second.lines, second.classified = 4, 3
    second.add_error(1, "worse", None)
    second.labels.update({"positive": 1, "negative": 2})

    first.extend(second)

    assert (first.lines, first.classified, first.errors) == (7, 5, 2)
    assert first.error_lines == [{"line": 2, "error": "bad", "id": "id-2"}, {"line": 4, "error": "worse"}]
    assert first.labels == {"positive": 3, "negative": 2}


def test_error_details_are_capped_but_counted():
    tally = Tally()
    for line in range(MAX_ERROR_DETAILS + 5):
        tally.add_error(line + 1, "bad", None)

    assert tally.errors == MAX_ERROR_DETAILS + 5
    assert len(tally.error_lines) == MAX_ERROR_DETAILS
