"""``make demo`` (training side): make sure a published bundle exists, then show it at work.

    python -m model_build.demo --models artifacts/models

Trains the default model from the shared tarball (or the official URL) when ``--models`` has
no ``current.json`` yet, then prints the served bundle's card and classifies a few sentences
with the int8 ONNX model, rebuilt from the bundle's own files as serving does.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnxruntime

from model_build import bundle
from model_build.preprocess import Preprocessor
from model_build.storage import StorageError, open_location

# Written for the demo; no review text from the dataset.
EXAMPLES = (
    "An absolute delight from start to finish, with a cast that clearly loved every minute.",
    "Two hours of my life I will never get back. The plot made no sense and the acting was wooden.",
    "Not bad at all, though the ending dragged on a little too long.",
    "这部电影太好看了 😍",
)


def ensure_bundle(models: str) -> bundle.Pointer:
    location = open_location(models)
    pointer = bundle.read_pointer(location)
    if pointer is not None:
        print(f"found {location.url}/current.json -> {pointer.version}")
        return pointer
    print(f"no bundle in {location.url} yet: training the default model (bow) …", flush=True)
    from model_build.train import main as train

    status = train(["--arch", "bow", "--out", models])
    pointer = bundle.read_pointer(location)
    if pointer is None:
        raise SystemExit(f"training ended with status {status} and promoted no bundle")
    return pointer


def show(models: str, pointer: bundle.Pointer) -> None:
    location = open_location(models)
    card = bundle.parse_card(location.get_bytes(f"{pointer.version}/{bundle.CARD_FILE}"), pointer.card_sha256)
    files = {}
    for name in bundle.DATA_FILES:
        files[name] = location.get_bytes(f"{pointer.version}/{name}")
        bundle.verify_file(card, name, files[name])
    accuracy = card["metrics"]["test_accuracy"]
    print(f"\nmodel card of {card['version']} ({card['architecture']}, trained {card['created_at']})")
    print(
        f"  test accuracy on {card['dataset']['test']} reviews: int8 {accuracy['onnx_int8']:.4f}, "
        f"fp32 {accuracy['onnx_fp32']:.4f}, torch {accuracy['torch_fp32']:.4f}"
    )
    print(
        f"  model.onnx {card['files'][bundle.MODEL_FILE]['bytes'] / 1e6:.1f} MB (int8), "
        f"model.fp32.onnx {card['files'][bundle.FP32_MODEL_FILE]['bytes'] / 1e6:.1f} MB; all checksums verified"
    )
    print(f"  training: {card['training']['epochs']} epochs, {card['training']['seconds']['total']:.0f} s in all")

    preprocessor = Preprocessor.from_json(files[bundle.PREPROCESS_FILE])
    session = onnxruntime.InferenceSession(files[bundle.MODEL_FILE], providers=["CPUExecutionProvider"])
    config = preprocessor.config
    (probabilities,) = session.run([config.output_name], {config.input_name: preprocessor.encode_batch(EXAMPLES)})
    print("\nclassified with the int8 model:")
    for text, row in zip(EXAMPLES, probabilities, strict=True):
        label = config.labels[int(np.argmax(row))]
        print(f"  {label:<8} {row.max():.3f}  {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_build.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", default="artifacts/models", help="bundle location, folder or s3:// (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        show(args.models, ensure_bundle(args.models))
    except (bundle.BundleError, StorageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
