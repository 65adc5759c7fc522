"""The tallies of chunks add up to the file's, with the file's line numbers; the summary counts
answers, abstentions and languages."""

import pytest

from functions.sentiment_model import ABSTENTION_REASONS, NO_EVIDENCE, UNSUPPORTED_LANGUAGE, PredictionLines
from functions.upload_summary import MAX_ERROR_DETAILS, Tally, summary
from functions.upload_tasks import Upload

pytestmark = pytest.mark.unit

LABELS = ("negative", "positive")


def predictions(*lines: tuple[str | None, str, str | None]) -> PredictionLines:
    """Predictions of some lines, each (label or None, language, abstention reason or None)."""
    return PredictionLines(
        labels=[label for label, _, _ in lines],
        languages=[language for _, language, _ in lines],
        abstentions=[reason for _, _, reason in lines],
        objects=["{}"] * len(lines),
    )


def summary_of(tally: Tally) -> dict:
    upload = Upload(key="uploads/a.jsonl", etag="e", run="r")
    return summary(upload, tally, chunks=1, started=0.0, finished=1.0, labels=LABELS)


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


def test_tallies_of_chunks_add_up_their_answers_abstentions_and_languages():
    first, second = Tally(), Tally()
    first.add_predictions(predictions(("positive", "en", None), (None, "de", UNSUPPORTED_LANGUAGE)))
    second.add_predictions(predictions((None, "und", NO_EVIDENCE), ("negative", "en", None), ("positive", "en", None)))

    first.extend(second)

    assert (first.classified, first.answered) == (5, 3)
    assert first.labels == {"positive": 2, "negative": 1}
    assert first.abstained == {UNSUPPORTED_LANGUAGE: 1, NO_EVIDENCE: 1}
    assert first.languages == {"en": 3, "de": 1, "und": 1}


def test_error_details_are_capped_but_counted():
    tally = Tally()
    for line in range(MAX_ERROR_DETAILS + 5):
        tally.add_error(line + 1, "bad", None)

    assert tally.errors == MAX_ERROR_DETAILS + 5
    assert len(tally.error_lines) == MAX_ERROR_DETAILS


def test_a_tally_survives_its_round_trip_through_a_chunk_marker():
    tally = Tally(lines=3, classify_seconds=0.5)
    tally.add_predictions(predictions(("negative", "en", None), (None, "und", NO_EVIDENCE)))
    tally.add_error(3, "bad", 7)
    tally.model_versions["v1"] += 2

    assert Tally.from_dict(tally.to_dict()) == tally


def test_a_chunk_marker_written_before_abstentions_were_counted_reads_as_all_answered():
    earlier = {
        "lines": 3, "classified": 2, "errors": 1, "labels": {"positive": 2}, "model_versions": {"v0": 2},
        "error_lines": [{"line": 3, "error": "bad"}], "classify_seconds": 0.1,
    }  # fmt: skip

    tally = Tally.from_dict(earlier)

    assert (tally.classified, tally.answered, tally.abstained, tally.languages) == (2, 2, {}, {})


def test_the_summary_labels_count_only_the_answered_lines():
    tally = Tally(lines=3)
    tally.add_predictions(predictions(("positive", "en", None), (None, "und", NO_EVIDENCE), (None, "und", NO_EVIDENCE)))

    document = summary_of(tally)

    assert (document["classified"], document["answered"]) == (3, 1)
    assert document["labels"] == {"negative": 0, "positive": 1}


def test_the_summary_names_every_abstention_reason_even_when_none_abstained():
    tally = Tally(lines=1)
    tally.add_predictions(predictions(("positive", "en", None)))

    assert summary_of(tally)["abstained"] == dict.fromkeys(ABSTENTION_REASONS, 0)


def test_the_summary_counts_abstentions_by_reason():
    tally = Tally(lines=3)
    tally.add_predictions(
        predictions((None, "und", NO_EVIDENCE), (None, "ja", UNSUPPORTED_LANGUAGE), (None, "ko", UNSUPPORTED_LANGUAGE))
    )

    assert summary_of(tally)["abstained"] == {UNSUPPORTED_LANGUAGE: 2, NO_EVIDENCE: 1}


def test_the_summary_lists_languages_most_frequent_first():
    tally = Tally(lines=6)
    tally.add_predictions(
        predictions(*[("positive", language, None) for language in ("de", "fr", "en", "fr", "en", "en")])
    )

    languages = summary_of(tally)["languages"]

    assert list(languages.items()) == [("en", 3), ("fr", 2), ("de", 1)]
