"""Where an upload's results go: ``uploads/<name>`` -> ``results/<name>.*`` with the name's
folders and extension kept (DESIGN.md, S3 layout)."""

import pytest

from functions.upload_tasks import ChunkTask, Upload

pytestmark = pytest.mark.unit


def upload(key: str) -> Upload:
    return Upload.from_notification(key=key, etag='"abc"', sequencer="0055")


def test_results_keep_the_folders_and_the_extension_of_the_upload():
    assert upload("uploads/t/a.csv").predictions_key == "results/t/a.csv.predictions.jsonl"
    assert upload("uploads/t/a.csv").summary_key == "results/t/a.csv.summary.json"


def test_uploads_that_differ_only_in_their_extension_have_results_of_their_own():
    keys = {upload(f"uploads/a.{extension}").summary_key for extension in ("csv", "jsonl", "txt", "CSV")}

    assert len(keys) == 4


def test_a_chunk_task_survives_its_round_trip_through_a_queue_message():
    task = ChunkTask(
        key="uploads/a.csv", etag='"abc"', size=10, run="r", format="csv", index=1, count=2,
        start=5, end=10, planned_at=1.5, columns={"text": 1, "id": None},
    )  # fmt: skip

    assert ChunkTask.from_message(task.to_message()) == task
    assert task.upload.summary_key == "results/a.csv.summary.json"
