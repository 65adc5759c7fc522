"""Train -> export -> quantize -> bundle on generated data, to a folder and to S3 (moto)."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from moto import mock_aws
from synthetic_imdb import TINY_TRAIN_ARGS

from functions.sentiment_model import SentimentModel
from model_build import bundle
from model_build.data import load_imdb
from model_build.pipeline import run
from model_build.preprocess import Preprocessor
from model_build.train import EXIT_FAILED, EXIT_GATE_FAILED, build_parser, main, parse_options

pytestmark = pytest.mark.functional


def _only_version(root):
    (version,) = [p for p in root.iterdir() if p.is_dir()]
    return version


def test_bundle_has_the_contract_layout(tiny_bundle_root):
    version = _only_version(tiny_bundle_root)
    assert sorted(p.name for p in version.iterdir()) == sorted(
        ["model.onnx", "model.fp32.onnx", "preprocess.json", "card.json"]
    )
    assert bundle.is_valid_version(version.name)


def test_card_checksums_and_sizes_match_the_files(tiny_bundle_root):
    version = _only_version(tiny_bundle_root)
    card = json.loads((version / "card.json").read_text())
    assert set(card["files"]) == {"model.onnx", "model.fp32.onnx", "preprocess.json"}
    for name, info in card["files"].items():
        assert info["sha256"] == bundle.sha256_file(version / name)
        assert info["bytes"] == (version / name).stat().st_size


def test_card_describes_the_training(tiny_bundle_root, imdb_tarball):
    card = json.loads((_only_version(tiny_bundle_root) / "card.json").read_text())
    assert card["architecture"] == "bow"
    assert card["dataset"]["sha256"] == bundle.sha256_file(imdb_tarball)
    assert card["model_config"]["num_buckets"] == 4096
    assert set(card["metrics"]["test_accuracy"]) == {"torch_fp32", "onnx_fp32", "onnx_int8"}
    assert card["metrics"]["onnx_fp32_vs_torch"]["max_probability_difference"] <= 1e-4
    assert {"torch", "onnx", "onnxruntime", "numpy", "python"} <= set(card["libraries"])
    assert card["quality_gate"]["passed"] is True
    assert card["training"]["distillation"] is None  # off by default
    assert card["calibration"]["fitted_on"]["generated_opinions"] == 3000  # the default
    assert card["calibration"]["shares"] == {"reviews": 0.25, "crops": 0.25, "opinions": 0.5}


def test_distillation_teaches_the_student_the_unlabelled_reviews(imdb_tarball, tmp_path):
    assert main(["--data", str(imdb_tarball), "--out", str(tmp_path), *TINY_TRAIN_ARGS, "--distill"]) == 0
    card = json.loads((_only_version(tmp_path) / "card.json").read_text())
    # the teacher labelled every unlabelled review of the archive, and crops of them and of the
    # training reviews; the student (the served torch model) is the one the card's metrics describe
    distilled = card["training"]["distillation"]
    assert distilled["unlabelled_reviews"] == 60 and distilled["crops"] > 60
    assert distilled["student"]["test_accuracy"] == card["metrics"]["test_accuracy"]["torch_fp32"]
    assert 0 < distilled["teacher_model"]["test_accuracy"] <= 1


def test_pointer_names_the_version_and_the_card_checksum(tiny_bundle_root):
    version = _only_version(tiny_bundle_root)
    pointer = bundle.Pointer.from_json((tiny_bundle_root / "current.json").read_bytes())
    assert pointer.version == version.name
    card = bundle.parse_card((version / "card.json").read_bytes(), expected_sha256=pointer.card_sha256)
    assert card["version"] == version.name


def test_int8_model_is_quantized_and_much_smaller(tiny_bundle_root):
    version = _only_version(tiny_bundle_root)
    int8 = onnx.load(str(version / "model.onnx"))
    eight_bit = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    assert any(init.data_type in eight_bit and "table" in init.name for init in int8.graph.initializer)
    # the table holds nearly every weight of a full-size model: one byte a number instead of four
    fp32 = onnx.load(str(version / "model.fp32.onnx"))
    table_bytes = max(len(init.raw_data) for init in fp32.graph.initializer)
    quantized_bytes = max(len(init.raw_data) for init in int8.graph.initializer if init.data_type in eight_bit)
    assert quantized_bytes <= 0.26 * table_bytes


def test_int8_onnx_predictions_agree_with_torch(imdb_tarball, tmp_path):
    result = run(parse_options(["--data", str(imdb_tarball), "--out", str(tmp_path), *TINY_TRAIN_ARGS]))
    folder = tmp_path / result.version
    preprocessor = Preprocessor.from_json((folder / "preprocess.json").read_bytes())
    texts = load_imdb(imdb_tarball, progress=False).test.texts
    ids = preprocessor.encode_batch(texts)
    with torch.no_grad():
        expected = torch.softmax(result.model(torch.from_numpy(ids)), dim=-1).numpy()
    for name, tolerance in (("model.fp32.onnx", 1e-4), ("model.onnx", 0.05)):
        session = onnxruntime.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        (logits,) = session.run(["logits"], {"input_ids": ids})
        actual = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
        assert np.abs(actual - expected).max() <= tolerance, name
        assert (actual.argmax(1) == expected.argmax(1)).mean() >= 0.97, name


def test_card_int8_accuracy_is_the_accuracy_serving_delivers(tiny_bundle_root, imdb_tarball):
    # GIVEN the published bundle, loaded as the functions load it
    folder = _only_version(tiny_bundle_root)
    card = json.loads((folder / "card.json").read_text())
    preprocessor = Preprocessor.from_json((folder / "preprocess.json").read_bytes())
    served = SentimentModel.load(folder / "model.onnx", preprocessor, card, threads=1)
    # WHEN it classifies the raw test reviews
    test = load_imdb(imdb_tarball, progress=False).test
    predicted = [preprocessor.config.labels.index(p.label) for p in served.classify(test.texts)]
    # THEN its accuracy is the card's int8 figure, which the quality gate judged
    accuracy = float(np.mean(np.array(predicted) == test.labels))
    assert card["metrics"]["test_accuracy"]["onnx_int8"] == round(accuracy, 5)


def test_model_takes_any_batch_and_sequence_length(tiny_bundle_root):
    session = onnxruntime.InferenceSession(str(_only_version(tiny_bundle_root) / "model.onnx"))
    for shape in ((1, 1), (3, 50), (64, 7)):
        logits, ngram_logits = session.run(["logits", "ngram_logits"], {"input_ids": np.ones(shape, dtype=np.int64)})
        assert logits.shape == (shape[0], 2) and np.isfinite(logits).all()
        assert ngram_logits.shape == (*shape, 2)


def test_failed_quality_gate_publishes_but_keeps_the_pointer(models_copy, imdb_tarball, capsys):
    before = (models_copy / "current.json").read_bytes()
    args = ["--data", str(imdb_tarball), "--out", str(models_copy), *TINY_TRAIN_ARGS, "--min-accuracy", "0.99"]
    assert main(args) == EXIT_GATE_FAILED
    assert (models_copy / "current.json").read_bytes() == before
    assert len([p for p in models_copy.iterdir() if p.is_dir()]) == 2
    assert "quality gate failed" in capsys.readouterr().out


def test_no_promote_publishes_but_keeps_the_pointer(models_copy, imdb_tarball):
    before = (models_copy / "current.json").read_bytes()
    assert main(["--data", str(imdb_tarball), "--out", str(models_copy), *TINY_TRAIN_ARGS, "--no-promote"]) == 0
    assert (models_copy / "current.json").read_bytes() == before
    assert len([p for p in models_copy.iterdir() if p.is_dir()]) == 2


def test_passing_bundle_is_promoted_over_the_previous_one(models_copy, imdb_tarball):
    old = bundle.Pointer.from_json((models_copy / "current.json").read_bytes())
    assert main(["--data", str(imdb_tarball), "--out", str(models_copy), *TINY_TRAIN_ARGS]) == 0
    new = bundle.Pointer.from_json((models_copy / "current.json").read_bytes())
    assert new.version != old.version and (models_copy / new.version / "card.json").is_file()


def test_same_bundle_is_published_to_s3(imdb_tarball):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models-test")
        assert main(["--data", str(imdb_tarball), "--out", "s3://models-test/models", *TINY_TRAIN_ARGS]) == 0
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="models-test")["Contents"]}

        def read(key: str) -> bytes:
            return s3.get_object(Bucket="models-test", Key=key)["Body"].read()

        pointer = bundle.Pointer.from_json(read("models/current.json"))
        card = bundle.parse_card(read(f"models/{pointer.version}/card.json"), expected_sha256=pointer.card_sha256)
        for name in card["files"]:
            data = read(f"models/{pointer.version}/{name}")
            bundle.verify_file(card, name, data)
    assert keys == {"models/current.json"} | {
        f"models/{pointer.version}/{name}" for name in ("model.onnx", "model.fp32.onnx", "preprocess.json", "card.json")
    }


def test_missing_s3_bucket_is_one_clear_error(imdb_tarball, capsys):
    with mock_aws():
        status = main(["--data", str(imdb_tarball), "--out", "s3://no-such-bucket/models", *TINY_TRAIN_ARGS])
    assert status == EXIT_FAILED
    assert capsys.readouterr().err.strip().startswith("error: cannot use s3://no-such-bucket")


def test_lstm_quantizes_its_lstm_op(imdb_tarball, tmp_path):
    args = ["--arch", "lstm", "--data", str(imdb_tarball), "--out", str(tmp_path)]
    args += ["--set", "num_buckets=2048", "--set", "embed_dim=16", "--set", "hidden_dim=16", "--set", "max_tokens=64"]
    args += ["--epochs", "2", "--min-accuracy", "0", "--max-quantization-drop", "1", "--no-progress"]
    assert main(args) == 0
    card = json.loads((_only_version(tmp_path) / "card.json").read_text())
    assert "DynamicQuantizeLSTM" in card["metrics"]["int8_operators"]
    ops = {node.op_type for node in onnx.load(str(_only_version(tmp_path) / "model.onnx")).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops


def test_training_is_reproducible_under_a_seed(imdb_tarball, tmp_path):
    cards = []
    for run_dir in ("a", "b"):
        out = tmp_path / run_dir
        assert main(["--data", str(imdb_tarball), "--out", str(out), *TINY_TRAIN_ARGS, "--seed", "7"]) == 0
        cards.append(json.loads((_only_version(tmp_path / run_dir) / "card.json").read_text()))
    assert [r["train_loss"] for r in cards[0]["training"]["history"]] == [
        r["train_loss"] for r in cards[1]["training"]["history"]
    ]
    assert cards[0]["files"]["model.fp32.onnx"]["sha256"] == cards[1]["files"]["model.fp32.onnx"]["sha256"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/nonexistent/aclImdb_v1.tar.gz", "--out", "x"], "error: data source not found"),
        (["--out", "ftp://host/models"], "error: --out must be a folder or s3://bucket/prefix"),
    ],
)
def test_command_line_errors_are_one_line_without_traceback(args, message, tmp_path):
    command = [sys.executable, "-m", "model_build.train", *args, "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == EXIT_FAILED
    assert result.stderr.strip().startswith(message)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_help_documents_every_flag_with_its_default():
    parser = build_parser()
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert any(option in text for option in action.option_strings), action.dest
        if action.required or isinstance(action.default, bool):
            continue  # --out has no default; on/off switches say what they turn off
        formatter = parser._get_formatter()
        assert "default" in formatter._expand_help(action), action.dest
    assert "bow 4" in text and "embed_dim=12" in text  # per-architecture defaults are spelled out


def test_demo_shows_the_promoted_bundle_and_classifies(models_copy):
    result = subprocess.run(
        [sys.executable, "-m", "model_build.demo", "--models", str(models_copy)], capture_output=True, text=True
    )
    pointer = bundle.Pointer.from_json((models_copy / "current.json").read_bytes())
    assert result.returncode == 0, result.stderr
    assert f"model card of {pointer.version}" in result.stdout
    assert "all checksums verified" in result.stdout
    assert result.stdout.count("positive") + result.stdout.count("negative") >= 4


def test_demo_refuses_a_tampered_bundle(models_copy):
    pointer = bundle.Pointer.from_json((models_copy / "current.json").read_bytes())
    (models_copy / pointer.version / "model.onnx").write_bytes(b"tampered")
    result = subprocess.run(
        [sys.executable, "-m", "model_build.demo", "--models", str(models_copy)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: model.onnx of") and "fails verification" in result.stderr
    assert "Traceback" not in result.stderr


def test_int8_probabilities_do_not_depend_on_the_batch(tiny_bundle_root, imdb_tarball):
    folder = _only_version(tiny_bundle_root)
    preprocessor = Preprocessor.from_json((folder / "preprocess.json").read_bytes())
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    texts = load_imdb(imdb_tarball, progress=False).test.texts[:20]
    (together,) = session.run(["logits"], {"input_ids": preprocessor.encode_batch(texts)})
    alone = np.concatenate([session.run(["logits"], {"input_ids": preprocessor.encode_batch([t])})[0] for t in texts])
    assert np.abs(together - alone).max() <= 1e-6
