"""Small generated datasets in the official aclImdb layout (no review text from IMDB)."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant", "loved", "delightful", "masterpiece"]
NEGATIVE = ["awful", "boring", "terrible", "dull", "waste", "hated", "clumsy", "mess"]
# Train arguments for a small and fast, but real, model: train -> ONNX -> int8 -> bundle.
TINY_TRAIN_ARGS = [
    "--set",
    "num_buckets=4096",
    "--set",
    "embed_dim=8",
    "--epochs",
    "5",
    "--learning-rate",
    "0.05",
    "--batch-size",
    "16",
    "--min-accuracy",
    "0.7",
    "--no-progress",
]
NEUTRAL = ["the", "film", "movie", "plot", "actor", "scene", "story", "camera", "music", "and", "a", "was", "it"]


def review(rng: random.Random, positive: bool) -> str:
    cue = POSITIVE if positive else NEGATIVE
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(8, 30))]
    for _ in range(rng.randint(2, 4)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    # markup the real reviews carry: line breaks as tags, entities
    return " ".join(words[:6]) + " <br /><br /> " + " ".join(words[6:]) + " &amp; more."


def review_files(per_folder: int, seed: int = 0, label_noise: float = 0.1) -> dict[str, str]:
    """``{"aclImdb/train/pos/0_9.txt": text, ...}`` with ``per_folder`` reviews in each folder,
    and as many unlabelled ones (``aclImdb/train/unsup/<i>_0.txt``) as a labelled folder has."""
    rng = random.Random(seed)
    files = {}
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            for index in range(per_folder):
                positive = (label == "pos") != (rng.random() < label_noise)
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                files[f"aclImdb/{split}/{label}/{index}_{rating}.txt"] = review(rng, positive)
    for index in range(per_folder):
        files[f"aclImdb/train/unsup/{index}_0.txt"] = review(rng, rng.random() < 0.5)
    files["aclImdb/README"] = "generated for tests\n"
    return files


def write_folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "aclImdb"


def write_tarball(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
