"""Small generated labelled datasets (support tickets with three labels), as CSV and JSONL."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

CUES = {
    "billing": ["invoice", "refund", "charged", "payment", "price", "subscription"],
    "bug report": ["crash", "error", "broken", "freezes", "fails", "glitch"],
    "Praise": ["love", "great", "thanks", "awesome", "helpful", "brilliant"],
}
LABELS = tuple(CUES)
FILLER = ["the", "app", "my", "account", "today", "when", "i", "it", "was", "and", "a", "on", "screen", "again"]
# training arguments for a small and fast, but real, model (as `synthetic_imdb.TINY_TRAIN_ARGS`)
TINY_LABELLED_ARGS = [
    "--set", "num_buckets=4096", "--set", "embed_dim=8", "--epochs", "6", "--learning-rate", "0.05",
    "--batch-size", "16", "--no-progress",
]  # fmt: skip


def ticket(rng: random.Random, label: str) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(5, 14))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
    return " ".join(words)


def tickets(per_label: int, seed: int = 0, counts: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """(text, label) pairs, shuffled; ``counts`` overrides ``per_label`` for some labels."""
    rng = random.Random(seed)
    rows = [(ticket(rng, label), label) for label in LABELS for _ in range((counts or {}).get(label, per_label))]
    rng.shuffle(rows)
    return rows


def csv_bytes(rows: list[tuple[str, str]], text_column: str = "text", label_column: str = "label") -> bytes:
    """A CSV with an id column too; some texts hold commas, quotes and a line break."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["id", text_column, label_column])
    for index, (text, label) in enumerate(rows):
        if index % 7 == 0:
            text = f'{text}, "quoted"\nand a second line'
        writer.writerow([index, text, label])
    return out.getvalue().encode()


def jsonl_bytes(rows: list[tuple[str, str]], text_column: str = "text", label_column: str = "label") -> bytes:
    return "".join(json.dumps({text_column: text, label_column: label}) + "\n" for text, label in rows).encode()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
