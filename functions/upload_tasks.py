"""What there is to classify: an uploaded file, or one chunk of a large one, and the S3 keys of
its results and of its chunks' work.

``uploads/<name>`` gives ``results/<name>.predictions.jsonl`` and ``results/<name>.summary.json``:
the name keeps its folders and extension, so ``uploads/a.csv`` and ``uploads/a.jsonl`` have
results of their own. The chunks of one run work under ``results/.chunks/<run>/``, where every
run also leaves the marker that says its outcome was announced.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from functions.contract import RESULTS_PREFIX, UPLOAD_WORK_PREFIX, UPLOADS_PREFIX
from functions.object_store import ObjectInfo
from functions.upload_formats import format_of


@dataclass(frozen=True)
class Upload:
    key: str
    etag: str
    # names one upload of the key: a re-upload of the same file is a new run
    run: str

    @classmethod
    def from_notification(cls, key: str, etag: str, sequencer: str) -> Upload:
        run = hashlib.sha256(f"{key}\0{etag}\0{sequencer}".encode()).hexdigest()[:24]
        return cls(key=key, etag=etag.strip('"'), run=run)

    @property
    def format(self) -> str | None:
        return format_of(self.key) if self.key.startswith(UPLOADS_PREFIX) else None

    @property
    def name(self) -> str:
        return self.key.removeprefix(UPLOADS_PREFIX)

    @property
    def predictions_key(self) -> str:
        return f"{RESULTS_PREFIX}{self.name}.predictions.jsonl"

    @property
    def summary_key(self) -> str:
        return f"{RESULTS_PREFIX}{self.name}.summary.json"

    @property
    def finished_key(self) -> str:
        """The run's marker, written once: the delivery that writes it puts the run's event."""
        return f"{UPLOAD_WORK_PREFIX}{self.run}/finished.json"


@dataclass(frozen=True)
class ChunkTask:
    """One byte range of a large upload; the body of a message on the uploads queue."""

    key: str
    etag: str  # quoted, as S3 compares it
    size: int
    run: str
    format: str
    index: int
    count: int
    start: int
    end: int
    planned_at: float
    columns: dict[str, int | None] | None = None

    MESSAGE_FIELD = "upload_chunk"

    def to_message(self) -> dict[str, Any]:
        return {self.MESSAGE_FIELD: asdict(self)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> ChunkTask:
        return cls(**message[cls.MESSAGE_FIELD])

    @property
    def upload(self) -> Upload:
        return Upload(key=self.key, etag=self.etag.strip('"'), run=self.run)

    @property
    def object(self) -> ObjectInfo:
        return ObjectInfo(self.key, self.size, self.etag)

    def _work(self, name: str) -> str:
        return f"{UPLOAD_WORK_PREFIX}{self.run}/{name}"

    def part_key(self, attempt: str) -> str:
        return self._work(f"parts/{self.index:05d}-{attempt}.jsonl")

    @property
    def done_prefix(self) -> str:
        return self._work("done/")

    def done_key(self, index: int) -> str:
        return self._work(f"done/{index:05d}.json")

    @property
    def claim_key(self) -> str:
        return self._work("join-claim.json")

    @property
    def joined_key(self) -> str:
        return self._work("joined.json")
