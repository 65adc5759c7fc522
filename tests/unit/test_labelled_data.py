"""Labelled datasets of a user's own (CSV, JSONL; local, s3://, https) and every way one can be wrong."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import boto3
import numpy as np
import pytest
from file_server import FileServer
from moto import mock_aws
from synthetic_labelled import LABELS, csv_bytes, jsonl_bytes, tickets, write

from model_build.data import DataSourceError
from model_build.labelled_data import Columns, class_weights, is_labelled_source, load_labelled

pytestmark = pytest.mark.unit


def load(path, tmp_path, **options):
    return load_labelled(str(path), cache_dir=tmp_path / "cache", progress=False, **options)


def as_pairs(split, labels):
    return sorted(zip(split.texts, [labels[i] for i in split.labels.tolist()], strict=True))


def test_csv_and_jsonl_of_the_same_rows_give_the_same_dataset(tmp_path):
    rows = tickets(20)
    from_csv = load(write(tmp_path / "t.csv", csv_bytes(rows)), tmp_path)
    from_jsonl = load(write(tmp_path / "t.jsonl", jsonl_bytes(csv_rows(rows))), tmp_path)

    assert from_csv.labels == from_jsonl.labels == tuple(sorted(LABELS))
    assert as_pairs(from_csv.train, from_csv.labels) == as_pairs(from_jsonl.train, from_jsonl.labels)
    assert as_pairs(from_csv.test, from_csv.labels) == as_pairs(from_jsonl.test, from_jsonl.labels)
    # quoted commas, quotes and line breaks survive in the texts
    assert any('"quoted"\nand a second line' in text for text in from_csv.train.texts + from_csv.test.texts)


def csv_rows(rows):
    """The rows as `csv_bytes` writes their texts."""
    return [(f'{t}, "quoted"\nand a second line' if i % 7 == 0 else t, label) for i, (t, label) in enumerate(rows)]


def test_the_held_out_test_set_is_stratified_seeded_and_disjoint(tmp_path):
    path = write(tmp_path / "t.csv", csv_bytes(tickets(50, counts={"billing": 20})))
    dataset = load(path, tmp_path, test_fraction=0.2, seed=3)

    test_counts = Counter(dataset.labels[i] for i in dataset.test.labels.tolist())
    assert test_counts == {"Praise": 10, "bug report": 10, "billing": 4}
    assert not set(dataset.test.texts) & set(dataset.train.texts)
    assert len(dataset.train) + len(dataset.test) == 120
    assert load(path, tmp_path, test_fraction=0.2, seed=3).test.texts == dataset.test.texts
    assert load(path, tmp_path, test_fraction=0.2, seed=4).test.texts != dataset.test.texts
    assert dataset.facts["label_counts"]["train"] == {"Praise": 40, "billing": 16, "bug report": 40}
    assert dataset.facts["imbalance_ratio"] == 2.5
    assert dataset.facts["test_set"] == {"held_out": {"fraction": 0.2, "seed": 3, "stratified": True}}


def test_a_separate_test_set_is_the_evaluation_and_its_checksum_counts(tmp_path):
    train = write(tmp_path / "train.jsonl", jsonl_bytes(tickets(10, seed=1)))
    test = write(tmp_path / "test.jsonl", jsonl_bytes(tickets(4, seed=2)))
    dataset = load(train, tmp_path, test_source=str(test))

    assert len(dataset.train) == 30 and len(dataset.test) == 12
    assert dataset.facts["test_set"]["source"] == str(test)
    alone = load(train, tmp_path)
    assert dataset.sha256 != alone.sha256  # the pair is checksummed, not the training file alone


def test_a_text_longer_than_csvs_default_field_limit_is_read_and_the_limit_left_as_it_was(tmp_path):
    import csv

    before = csv.field_size_limit()
    long_text = "word " * (before // 4)
    rows = [(long_text if i == 0 else text, label) for i, (text, label) in enumerate(tickets(5))]
    dataset = load(write(tmp_path / "t.csv", csv_bytes(rows)), tmp_path)
    assert max(map(len, dataset.train.texts + dataset.test.texts)) > before
    assert csv.field_size_limit() == before


def test_labels_keep_their_spelling_and_integer_labels_sort_as_numbers(tmp_path):
    rows = [{"text": f"text number {i}", "label": [10, 2, 1][i % 3]} for i in range(30)]
    path = write(tmp_path / "stars.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    assert load(path, tmp_path).labels == ("1", "2", "10")
    spelled = write(tmp_path / "t.csv", csv_bytes(tickets(5)))
    assert set(load(spelled, tmp_path).labels) == {"billing", "bug report", "Praise"}


def test_column_names_are_settable(tmp_path):
    path = write(tmp_path / "t.csv", csv_bytes(tickets(5), text_column="body", label_column="category"))
    dataset = load(path, tmp_path, columns=Columns(text="body", label="category"))
    assert len(dataset.train) + len(dataset.test) == 15
    assert dataset.facts["columns"] == {"text": "body", "label": "category"}


def test_duplicates_between_train_and_test_are_counted(tmp_path):
    rows = tickets(10)
    train = write(tmp_path / "train.jsonl", jsonl_bytes(rows))
    test_rows = rows[:4] + [(rows[5][0].upper() + "  ", rows[5][1])] + tickets(3, seed=9)
    test = write(tmp_path / "test.jsonl", jsonl_bytes(test_rows))
    dataset = load(train, tmp_path, test_source=str(test))
    assert dataset.facts["duplicates"]["test_texts_also_in_train"] == 5  # case and spacing aside
    assert dataset.facts["duplicates"]["within_train"] == 0


def test_class_weights_even_out_the_labels():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    weights = class_weights(labels, 3)
    assert np.allclose(weights * np.bincount(labels), 100 / 3)


def test_only_csv_and_jsonl_names_are_labelled_sources():
    assert (
        is_labelled_source("a/b.csv")
        and is_labelled_source("s3://b/k.JSONL")
        and is_labelled_source("https://h/x.ndjson?v=1")
    )
    assert not is_labelled_source("aclImdb_v1.tar.gz") and not is_labelled_source("https://h/aclImdb")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "t.csv",
            b"id,body,label\n1,hello,a\n",
            "the header has no column 'text' (set --text-column); its columns: 'id', 'body', 'label'",
        ),
        ("t.csv", b"text,category\nhello,a\n", "the header has no column 'label' (set --label-column)"),
        ("t.csv", b"", "is empty"),
        ("t.csv", b"text,label\n", "holds no examples"),
        ("t.csv", b"text,label\nfine,a\n,b\n", "line 3: the text is empty"),
        ("t.csv", b"text,label\nfine,a\nno label,\n", "line 3: the label is empty"),
        ("t.csv", b'text,label\nfine,a\n"two\nlines",b\nshort\n', "line 5: 1 fields, but the header has 2"),
        ("t.csv", b"text,label\nfine,a\ncaf\xe9,b\n", "line 3: not UTF-8 text"),
        ("t.csv", gzip.compress(b"text,label\nfine,a\n"), "is gzip-compressed, not CSV text"),
        ("t.csv", b'{"text": "a", "label": "b"}\n', "is not CSV: its first line looks like JSON"),
        ("t.jsonl", b"text,label\nfine,a\n", "line 1: not a JSON object (is it CSV? name it .csv)"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n[1, 2]\n', "line 2: not a JSON object"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n{"text": "b"}\n', "line 2: no field 'label' (set --label-column)"),
        ("t.jsonl", b'{"text": 5, "label": "x"}\n', "line 1: the text must be a string, not int"),
        ("t.jsonl", b'{"text": "a", "label": [1]}\n', "line 1: the label must be a string or an integer, not list"),
        ("t.jsonl", b"\x00\x01binary", "is binary, not JSONL text"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n', "has a single label 'x'"),
        (
            "t.jsonl",
            b"".join(
                b'{"text": "t%d", "label": "%s"}\n' % (i, b"ab"[i % 2 : i % 2 + 1] if i < 8 else b"c")
                for i in range(10)
            ),
            "too few examples to split off a validation and a test set (at least 3 per label needed): 'c' (2)",
        ),
    ],
)
def test_bad_data_is_one_clear_error_naming_the_file(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataSourceError) as raised:
        load(path, tmp_path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_test_label_the_training_data_lacks_is_refused(tmp_path):
    train = write(tmp_path / "train.jsonl", jsonl_bytes(tickets(5)))
    test = write(tmp_path / "test.jsonl", jsonl_bytes(tickets(2) + [("what is this", "other")]))
    with pytest.raises(DataSourceError, match="labels the training data does not have: 'other'"):
        load(train, tmp_path, test_source=str(test))


def test_a_missing_file_and_an_unknown_scheme_are_clear_errors(tmp_path):
    with pytest.raises(DataSourceError, match="data source not found"):
        load(tmp_path / "absent.csv", tmp_path)
    with pytest.raises(DataSourceError, match="unsupported scheme"):
        load("ftp://host/t.csv", tmp_path)


def test_an_s3_source_is_read_with_boto3(tmp_path):
    rows = tickets(6)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="team-data")
        s3.put_object(Bucket="team-data", Key="sets/train.csv", Body=csv_bytes(rows))
        dataset = load("s3://team-data/sets/train.csv", tmp_path)
        assert len(dataset.train) + len(dataset.test) == 18
        with pytest.raises(DataSourceError, match="cannot read s3://team-data/sets/absent.csv"):
            load("s3://team-data/sets/absent.csv", tmp_path)


def test_an_https_source_is_downloaded_once_into_the_cache(tmp_path):
    server = FileServer(jsonl_bytes(tickets(6)), "data/train.jsonl")
    try:
        first, second = load(server.url, tmp_path), load(server.url, tmp_path)
    finally:
        server.close()
    assert first.test.texts == second.test.texts and (len(first.train), len(first.test)) == (15, 3)
    assert server.paths == ["/data/train.jsonl"]
