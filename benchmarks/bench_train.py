"""Training benchmark: tarball to published bundle, per architecture, as a table.

    python -m benchmarks.bench_train --archs bow lstm      (make bench-train ARCHS="bow lstm")

Each architecture is trained by the real command (``python -m model_build.train``) in a child
process, so the wall time covers everything from reading the tarball to the published bundle
and the peak memory is that process's maximum resident set. Figures come from the bundle's
card. ``--baseline`` adds scikit-learn TF-IDF + logistic regression on the same split.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model_build.bundle import CARD_FILE, FP32_MODEL_FILE, MODEL_FILE
from model_build.data import default_source


def _train(arch: str, data: str, out: Path, extra: list[str]) -> dict:
    started = time.perf_counter()
    command = [sys.executable, "-m", "model_build.train", "--arch", arch, "--data", data, "--out", str(out)]
    command += ["--no-progress", "--no-promote", *extra]
    # the child's own summary goes to stderr, so stdout holds only the table
    child = subprocess.Popen(command, stdout=sys.stderr)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory, not all children's
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode not in (0, 3):
        raise SystemExit(f"training {arch} failed with exit status {child.returncode}")
    (version,) = [p for p in out.iterdir() if p.is_dir()]
    card = json.loads((version / CARD_FILE).read_text())
    return {"card": card, "seconds": seconds, "peak_gb": usage.ru_maxrss / 1024 / 1024}


def _baseline(data: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from model_build.data import load_imdb

    dataset = load_imdb(data, progress=False)
    started = time.perf_counter()
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=10, max_iter=1000)
    )
    pipeline.fit(dataset.train.texts, dataset.train.labels)
    accuracy = float((pipeline.predict(dataset.test.texts) == dataset.test.labels).mean())
    return {"accuracy": accuracy, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=["bow"], help="architectures to train (default: bow)")
    parser.add_argument("--data", default=default_source(), help="dataset source (default: %(default)s)")
    parser.add_argument("--baseline", action="store_true", help="also fit TF-IDF (1-2 grams) + logistic regression")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    rows = []
    for arch in args.archs:
        with tempfile.TemporaryDirectory(prefix=f"bench-{arch}-") as scratch:
            print(f"training {arch} …", file=sys.stderr, flush=True)
            rows.append((arch, _train(arch, args.data, Path(scratch), [])))

    header = (
        f"{'arch':<6} {'int8 acc':>8} {'fp32 acc':>8} {'torch acc':>9} {'drop pts':>8} {'int8 MB':>8} "
        f"{'fp32 MB':>8} {'ratio':>6} {'wall s':>7} {'peak GB':>7}  int8 LSTM op"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for arch, row in rows:
        metrics = row["card"]["metrics"]
        accuracy = metrics["test_accuracy"]
        files = row["card"]["files"]
        lstm_op = "DynamicQuantizeLSTM" in metrics["int8_operators"]
        print(
            f"{arch:<6} {accuracy['onnx_int8']:>8.4f} {accuracy['onnx_fp32']:>8.4f} {accuracy['torch_fp32']:>9.4f} "
            f"{round(metrics['quantization_drop_points'], 2) + 0.0:>8.2f} {files[MODEL_FILE]['bytes'] / 1e6:>8.2f} "
            f"{files[FP32_MODEL_FILE]['bytes'] / 1e6:>8.2f} {metrics['int8_to_fp32_size_ratio']:>6.3f} "
            f"{row['seconds']:>7.1f} {row['peak_gb']:>7.2f}  {'yes' if lstm_op else '-'}"
        )
        results[arch] = {"seconds": row["seconds"], "peak_gb": row["peak_gb"], "metrics": metrics, "files": files}
    if args.baseline:
        baseline = _baseline(args.data)
        print(
            "baseline: scikit-learn TF-IDF (1-2 grams) + logistic regression, "
            f"test accuracy {baseline['accuracy']:.4f} ({baseline['seconds']:.0f} s)"
        )
        results["tfidf_logreg_baseline"] = baseline
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
