"""Train, export, quantize, evaluate and publish a sentiment model bundle.

    python -m model_build.train --arch bow --data ../shared/data/aclImdb_v1.tar.gz --out artifacts/models
    python -m model_build.train --arch lstm --out s3://models-bucket/models --device cuda
    python -m model_build.train --data tickets.csv --label-column category --out artifacts/tickets

The same command runs on a laptop CPU and in the AWS Batch GPU job. See ``--help``: the flags
are the fields of `model_build.options.TrainOptions`, and `model_build.pipeline` does the work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_build import bundle, command_line, models
from model_build.agreement import ExportMismatchError
from model_build.data import DataSourceError
from model_build.export import ExportError
from model_build.options import ARCHITECTURES, TrainOptions
from model_build.pipeline import DeviceUnavailableError, TrainResult, run
from model_build.storage import StorageError

EXIT_FAILED = 2  # also argparse's status for a bad command line: nothing is published either way
EXIT_GATE_FAILED = 3
# what ends the command with one error line: anything else is a bug and keeps its traceback
_FAILURES = (
    DataSourceError,
    DeviceUnavailableError,
    StorageError,
    ExportError,
    ExportMismatchError,
    bundle.BundleError,
)


def _parser_arguments() -> dict[str, str]:
    return {
        "prog": "python -m model_build.train",
        "description": (
            "Train a text classifier on the IMDB reviews (the default sentiment model) or on a labelled "
            "dataset of your own (CSV or JSONL, any number of labels), export it to ONNX, quantize it to "
            "int8, evaluate torch fp32, ONNX fp32 and ONNX int8 on the test texts (IMDB's 25,000 test "
            "reviews; --test-data, or a held-out share of --data) and write the bundle to OUT/<version>/. "
            "OUT/current.json is rewritten only when the bundle passes the quality gate."
        ),
        "epilog": (
            f"Exit status: 0 published (and promoted unless --no-promote); {EXIT_GATE_FAILED} published "
            f"but not promoted because the quality gate failed; {EXIT_FAILED} nothing published (bad "
            "option, data source, output location or export). Architectures: "
            + "; ".join(f"{name}: {models.load(name).DESCRIPTION}" for name in ARCHITECTURES)
        ),
    }


def build_parser() -> argparse.ArgumentParser:
    return command_line.build_parser(TrainOptions, **_parser_arguments())


def parse_options(argv: Sequence[str] | None = None) -> TrainOptions:
    """The options of ``argv``; a bad one ends the process with one ``error:`` line and status 2."""
    return command_line.parse(TrainOptions, argv, **_parser_arguments())


def summary(result: TrainResult) -> str:
    metrics = result.card["metrics"]
    accuracy = metrics["test_accuracy"]
    sizes = {name: info["bytes"] for name, info in result.card["files"].items()}
    lines = [
        f"bundle {result.version} -> {result.location}",
        f"  test accuracy: torch fp32 {accuracy['torch_fp32']:.4f}, onnx fp32 {accuracy['onnx_fp32']:.4f}, "
        f"onnx int8 {accuracy['onnx_int8']:.4f}; int8 macro-F1 {metrics['test_macro_f1']['onnx_int8']:.4f} "
        f"over {len(result.card['labels'])} labels",
        f"  model.onnx {sizes[bundle.MODEL_FILE] / 1e6:.2f} MB, "
        f"model.fp32.onnx {sizes[bundle.FP32_MODEL_FILE] / 1e6:.2f} MB "
        f"(ratio {metrics['int8_to_fp32_size_ratio']:.3f})",
    ]
    if result.promoted:
        lines.append("  promoted: current.json now points to this version")
    elif not result.gate_passed:
        lines.append("  NOT promoted, quality gate failed: " + "; ".join(result.card["quality_gate"]["reasons"]))
    else:
        lines.append("  not promoted (--no-promote)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        result = run(options)
    except _FAILURES as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(result))
    return 0 if result.gate_passed else EXIT_GATE_FAILED


if __name__ == "__main__":
    sys.exit(main())
