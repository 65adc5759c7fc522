"""The model the local cloud serves: the bundle of a local models folder, published to the models bucket."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from functions.contract import MODEL_PREFIX
from infra.settings import TRAINING
from model_build import bundle
from model_build.storage import open_location


def ensure_trained(models: Path) -> None:
    """Trains the default model into ``models`` unless a bundle is promoted there already."""
    if (models / bundle.POINTER_FILE).is_file():
        return
    print(f"no bundle in {models} yet: training the default model ({TRAINING.default_architecture}) …", flush=True)
    # a process of its own: the local cloud imports no torch
    command = [sys.executable, "-m", "model_build.train", "--arch", TRAINING.default_architecture, "--out", str(models)]
    subprocess.run(command, check=True)
    if not (models / bundle.POINTER_FILE).is_file():
        raise bundle.BundleError(f"training promoted no bundle into {models}")


def publish_if_missing(s3, model_bucket: str, models: Path) -> str:
    """Publishes the promoted bundle of ``models`` unless the bucket serves one; the served version."""
    target = open_location(f"s3://{model_bucket}/{MODEL_PREFIX}", s3_client=s3)
    served = bundle.read_pointer(target)
    if served is not None:
        return served.version
    source = open_location(str(models))
    pointer = bundle.read_pointer(source)
    if pointer is None:
        raise bundle.BundleError(f"{models} has no {bundle.POINTER_FILE}")
    # data files, card, pointer last: the order `bundle.publish` keeps, for the same reason
    for name in (*bundle.DATA_FILES, bundle.CARD_FILE):
        target.put_file(f"{pointer.version}/{name}", models / pointer.version / name)
    # the folder's history names versions the bucket does not hold: the bucket's starts here
    target.put_bytes(bundle.POINTER_FILE, bundle.promoted(None, pointer.release).to_json())
    return pointer.version
