"""Progress messages of the training command: on stderr, between tqdm's bars, so stdout keeps only the summary."""

from __future__ import annotations

import sys

from tqdm import tqdm


def say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)
