"""The tallies of chunks add up to the file's, with the file's line numbers."""

import pytest

from functions.upload_summary import MAX_ERROR_DETAILS, Tally

pytestmark = pytest.mark.unit


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


def test_a_tally_survives_its_round_trip_through_a_chunk_marker():
    tally = Tally(lines=2, classified=1, classify_seconds=0.5)
    tally.add_error(2, "bad", 7)
    tally.labels["negative"] += 1
    tally.model_versions["v1"] += 1

    assert Tally.from_dict(tally.to_dict()) == tally
