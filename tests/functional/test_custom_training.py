"""A team's own labelled data (three labels, CSV and JSONL, local and moto S3) through train ->
bundle -> serve: the card, the gate, and every function answering with the data's labels."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws
from serving_harness import api_event, response_json
from synthetic_labelled import CUES, LABELS, TINY_LABELLED_ARGS, csv_bytes, jsonl_bytes, tickets, write

from functions import api, jobs, uploads
from model_build import bundle
from model_build.train import EXIT_FAILED, main

pytestmark = pytest.mark.functional


def only_version(root):
    (version,) = [p for p in root.iterdir() if p.is_dir()]
    return version


@pytest.fixture(scope="module")
def tickets_bundle_root(tmp_path_factory):
    """A models folder trained once on a generated three-label CSV (with a held-out test set)."""
    root = tmp_path_factory.mktemp("tickets")
    data = write(root.parent / "tickets-data" / "tickets.csv", csv_bytes(tickets(60)))
    assert main(["--data", str(data), "--out", str(root), *TINY_LABELLED_ARGS]) == 0
    return root


def card_of(root):
    return json.loads((only_version(root) / "card.json").read_text())


def test_the_card_describes_the_labels_and_the_per_label_quality(tickets_bundle_root):
    card = card_of(tickets_bundle_root)
    labels = sorted(LABELS)

    assert card["labels"] == labels
    assert card["dataset"]["labels"] == labels and card["dataset"]["format"] == "csv"
    assert card["dataset"]["label_counts"]["test"] == dict.fromkeys(labels, 12)
    assert len(card["dataset"]["sha256"]) == 64 and card["dataset"]["test_set"]["held_out"]["stratified"]
    report = card["metrics"]["test_labels"]
    assert set(report["per_label"]) == set(labels)
    matrix = report["confusion_matrix"]["counts"]
    assert [sum(row) for row in matrix] == [12, 12, 12]
    right = sum(matrix[i][i] for i in range(3))
    assert right / 36 == pytest.approx(card["metrics"]["test_accuracy"]["onnx_int8"], abs=1e-4)
    for figures in report["per_label"].values():
        assert 0 <= figures["precision"] <= 1 and figures["support"] == 12
    gate = card["quality_gate"]
    assert gate["passed"] and gate["majority_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert gate["int8_macro_f1"] == report["macro_f1"] > 0.8
    assert card["languages"]["supported"] == ["en"]
    assert "Trained on" in card["limitations"][-1] and "tickets.csv" in card["limitations"][-1]


def test_every_function_answers_with_the_bundles_labels(cloud, tickets_bundle_root, lambda_context):
    cloud.publish_folder(tickets_bundle_root)
    texts = [f"the {CUES[label][0]} on my account" for label in LABELS]

    response = api.lambda_handler(api_event("POST", "/classify", {"texts": texts}), lambda_context)
    assert response["statusCode"] == 200
    predictions = response_json(response)["predictions"]
    assert [p["label"] for p in predictions] == list(LABELS)
    for prediction in predictions:
        assert set(prediction["probabilities"]) == set(LABELS)
        assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-3)

    model = response_json(api.lambda_handler(api_event("GET", "/model"), lambda_context))
    assert model["labels"] == sorted(LABELS)
    document = response_json(api.lambda_handler(api_event("GET", "/openapi.json"), lambda_context))
    prediction = document["components"]["schemas"]["PredictionBody"]["properties"]
    assert prediction["label"]["anyOf"][0]["enum"] == sorted(LABELS)
    assert prediction["probabilities"]["anyOf"][0]["propertyNames"] == {"enum": sorted(LABELS)}

    accepted = response_json(api.lambda_handler(api_event("POST", "/jobs", {"texts": texts}), lambda_context))
    cloud.drain(cloud.jobs_queue_url, jobs.lambda_handler, lambda_context)
    job = response_json(api.lambda_handler(api_event("GET", f"/jobs/{accepted['job_id']}"), lambda_context))
    assert job["status"] == "done" and [p["label"] for p in job["predictions"]] == list(LABELS)

    cloud.put_data("uploads/tickets.csv", b"text\n" + "\n".join(texts).encode() + b"\n")
    cloud.drain(cloud.uploads_queue_url, uploads.lambda_handler, lambda_context)
    summary = json.loads(cloud.get_data("results/tickets.csv.summary.json"))
    assert summary["labels"] == dict.fromkeys(LABELS, 1)


def test_jsonl_on_s3_with_a_separate_test_set_trains_into_s3(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("team-data", "team-models"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="team-data", Key="train.jsonl", Body=jsonl_bytes(tickets(40, seed=1), "body", "topic"))
        s3.put_object(Bucket="team-data", Key="test.jsonl", Body=jsonl_bytes(tickets(10, seed=2), "body", "topic"))
        args = ["--data", "s3://team-data/train.jsonl", "--test-data", "s3://team-data/test.jsonl"]
        args += ["--text-column", "body", "--label-column", "topic", "--out", "s3://team-models/models"]
        assert main([*args, *TINY_LABELLED_ARGS]) == 0

        def read(key):
            return s3.get_object(Bucket="team-models", Key=key)["Body"].read()

        pointer = bundle.Pointer.from_json(read("models/current.json"))
        card = bundle.parse_card(read(f"models/{pointer.version}/card.json"), expected_sha256=pointer.card_sha256)
    assert card["dataset"]["test_set"]["source"] == "s3://team-data/test.jsonl"
    assert card["dataset"]["test_set"]["format"] == "jsonl"
    assert (card["dataset"]["train"], card["dataset"]["validation"], card["dataset"]["test"]) == (108, 12, 30)
    assert sum(card["metrics"]["test_labels"]["confusion_matrix"]["counts"][0]) == 10


def test_class_weights_and_imbalance_are_reported(tmp_path, capsys):
    data = write(tmp_path / "skewed.csv", csv_bytes(tickets(75, counts={"Praise": 15})))
    assert main(["--data", str(data), "--out", str(tmp_path / "models"), "--class-weights", *TINY_LABELLED_ARGS]) == 0
    said = capsys.readouterr().err
    assert "labels (3): Praise 12, billing 60, bug report 60" in said  # the training share, after the test split
    assert "warning: imbalanced labels, the most common is 5.0 times as frequent as the rarest" in said
    card = card_of(tmp_path / "models")
    weights = card["training"]["class_weights"]
    assert "class weights: " + ", ".join(f"{label} {weight:.3f}" for label, weight in weights.items()) in said
    # every label weighs the same in all: weight x count is equal (counts of the split trained on)
    trained = card["dataset"]["train"]
    assert weights["Praise"] / weights["billing"] == pytest.approx(5.0, rel=0.1)
    assert trained + card["dataset"]["validation"] == 132 and card["dataset"]["imbalance_ratio"] == 5.0


def test_a_model_that_does_no_better_than_the_commonest_label_is_not_promoted(tmp_path):
    # labels drawn independently of the texts: nothing to learn
    rows = [(text, LABELS[i % 3]) for i, (text, _) in enumerate(tickets(40, seed=4))]
    data = write(tmp_path / "noise.jsonl", jsonl_bytes(rows))
    out = tmp_path / "models"
    assert main(["--data", str(data), "--out", str(out), "--min-macro-f1", "0.9", *TINY_LABELLED_ARGS]) == 3
    card = card_of(out)
    assert not card["quality_gate"]["passed"]
    assert any("macro-F1" in reason for reason in card["quality_gate"]["reasons"])
    assert not (out / "current.json").exists()


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"id,body\n1,hello\n", [], "the header has no column 'text' (set --text-column)"),
        (b"text,label\nfine,a\nalso fine,a\n", [], "has a single label 'a'"),
        (b"text,label\nfine,a\ncaf\xe9,b\n", [], "line 3: not UTF-8 text"),
        (b"text,label\n" + b"".join(b"t%d,%s\n" % (i, b"a" if i else b"b") for i in range(9)), [],
         "too few examples to split off a validation and a test set (at least 3 per label needed): 'b' (1)"),
        (b"text,label\nfine,a\n", ["--test-data", "elsewhere.txt"], "--test-data must be a .csv or .jsonl file"),
    ],
)  # fmt: skip
def test_bad_data_is_one_error_line_and_a_non_zero_exit(tmp_path, content, extra, message):
    data = write(tmp_path / "bad.csv", content)
    command = [sys.executable, "-m", "model_build.train", "--data", str(data), "--out", str(tmp_path / "m"), *extra]
    result = subprocess.run([*command, "--no-progress"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == EXIT_FAILED
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
