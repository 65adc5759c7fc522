"""File uploads end to end: a file put under uploads/ (AWS CLI or boto3) raises moto's S3
notification into the uploads queue, the poller invokes functions.uploads, results appear."""

from __future__ import annotations

import json

import pytest
from cloud_user import UPLOAD_CHUNK_BYTES

from functions import contract
from infra.local import resources

pytestmark = pytest.mark.e2e

DATA = f"s3://{resources.DATA_BUCKET}/{contract.UPLOADS_PREFIX}"


def test_jsonl_uploaded_with_the_cli_gets_one_result_line_per_input_line(local_cloud, tmp_path):
    lines = [
        json.dumps({"id": "a", "text": "great wonderful film"}),
        "{not json",
        json.dumps({"id": "c"}),
        json.dumps({"text": "awful boring mess"}),
        json.dumps({"id": "e", "text": "x" * (contract.MAX_TEXT_CHARS + 1)}),
    ]
    source = tmp_path / "reviews.jsonl"
    source.write_text("\n".join(lines) + "\n")

    # a key with a space and a plus: S3 URL-encodes both in the notification
    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e reviews+1.jsonl")

    summary, predictions = local_cloud.upload_results("e2e reviews+1.jsonl")
    assert (summary["lines"], summary["classified"], summary["answered"], summary["errors"]) == (5, 2, 2, 3)
    assert [p.get("label") for p in predictions] == ["positive", None, None, "negative", None]
    assert [p.get("id") for p in predictions] == ["a", None, "c", None, "e"]
    assert all("error" in predictions[index] for index in (1, 2, 4))


def test_a_line_with_nothing_to_learn_from_is_abstained_on_and_counted(local_cloud, tmp_path):
    source = tmp_path / "abstain.jsonl"
    texts = ["great wonderful film", "\u200b\u200b", "awful boring mess"]
    source.write_text("".join(json.dumps({"id": i, "text": text}) + "\n" for i, text in enumerate(texts)))

    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e-abstain.jsonl")

    summary, predictions = local_cloud.upload_results("e2e-abstain.jsonl")
    assert [p["label"] for p in predictions] == ["positive", None, "negative"]
    assert predictions[1]["id"] == 1 and predictions[1]["abstained"]["reason"] == "no_evidence"
    assert (summary["classified"], summary["answered"]) == (3, 2)
    assert summary["abstained"] == {"unsupported_language": 0, "no_evidence": 1}
    assert summary["labels"] == {"negative": 1, "positive": 1}
    assert sum(summary["languages"].values()) == 3


def test_csv_with_quoted_commas_and_newlines_is_classified_row_by_row(local_cloud):
    rows = 'id,text\n1,"superb, moving\nand brilliant"\n2,dull clumsy waste\n3,\n'

    local_cloud.s3.put_object(
        Bucket=resources.DATA_BUCKET, Key=f"{contract.UPLOADS_PREFIX}e2e-rows.csv", Body=rows.encode()
    )

    summary, predictions = local_cloud.upload_results("e2e-rows.csv")
    assert [p.get("id") for p in predictions] == ["1", "2", "3"]
    assert [p.get("label") for p in predictions] == ["positive", "negative", None]
    assert summary["errors"] == 1


def test_txt_uploaded_with_the_cli_classifies_every_line(local_cloud, tmp_path):
    source = tmp_path / "lines.txt"
    source.write_text("loved this delightful film\n\nhated this terrible movie\n")

    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e-lines.txt")

    summary, predictions = local_cloud.upload_results("e2e-lines.txt")
    assert [p.get("label") for p in predictions] == ["positive", None, "negative"]
    assert summary["errors"] == 1


def test_large_file_is_split_into_chunks_and_joined_in_input_order(local_cloud, tmp_path):
    count = 600
    source = tmp_path / "large.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": i, "text": "wonderful superb film" if i % 2 else "boring awful film"}) + "\n"
            for i in range(count)
        )
    )
    assert source.stat().st_size > 4 * UPLOAD_CHUNK_BYTES

    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e-large.jsonl")

    summary, predictions = local_cloud.upload_results("e2e-large.jsonl", timeout=120)
    assert summary["chunks"] > 1
    assert [p["id"] for p in predictions] == list(range(count))
    assert [p["label"] for p in predictions] == ["negative", "positive"] * (count // 2)


def test_a_chunked_upload_puts_one_event_on_the_default_bus_once_joined(local_cloud, tmp_path):
    source = tmp_path / "announced.txt"
    source.write_text("wonderful superb film\n" * 1000)
    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e-announced.txt")
    summary, _ = local_cloud.upload_results("e2e-announced.txt", timeout=120)

    key = f"{contract.UPLOADS_PREFIX}e2e-announced.txt"
    event = local_cloud.events.wait_for(contract.UPLOAD_FINISHED, upload_key=key, timeout=30)

    assert summary["chunks"] > 1
    assert (event["source"], event["detail"]["status"]) == (contract.EVENT_SOURCE, "done")
    assert (event["detail"]["chunks"], event["detail"]["counts"]["lines"]) == (summary["chunks"], 1000)
    assert event["detail"]["result_key"] == "results/e2e-announced.txt.summary.json"
    assert len(local_cloud.events.about(contract.UPLOAD_FINISHED, upload_key=key)) == 1  # not one per chunk


def test_upload_results_are_listed_with_the_cli(local_cloud, tmp_path):
    source = tmp_path / "listed.txt"
    source.write_text("a wonderful film\n")
    local_cloud.aws("s3", "cp", str(source), f"{DATA}e2e-listed.txt")
    local_cloud.upload_results("e2e-listed.txt")

    listing = local_cloud.aws("s3", "ls", f"s3://{resources.DATA_BUCKET}/{contract.RESULTS_PREFIX}e2e-listed")

    assert "e2e-listed.txt.predictions.jsonl" in listing
    assert "e2e-listed.txt.summary.json" in listing
