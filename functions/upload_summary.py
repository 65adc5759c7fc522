"""What classifying an upload produced: the counts of some records (`Tally`), and the summary
document written to ``results/<name>.summary.json``."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from functions.sentiment_model import ABSTENTION_REASONS, PredictionLines
from functions.upload_tasks import Upload

MAX_ERROR_DETAILS = 100


@dataclass
class Tally:
    """What classifying some records produced; tallies of chunks add up to the file's."""

    lines: int = 0
    classified: int = 0  # lines that got a prediction object, answered or abstained
    answered: int = 0  # of those, the ones with a label
    errors: int = 0
    labels: Counter = field(default_factory=Counter)  # of the answered lines
    abstained: Counter = field(default_factory=Counter)  # by reason
    languages: Counter = field(default_factory=Counter)  # of the classified lines
    model_versions: Counter = field(default_factory=Counter)
    error_lines: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_ERROR_DETAILS
    classify_seconds: float = 0.0

    def add_predictions(self, predictions: PredictionLines) -> None:
        self.classified += len(predictions.objects)
        answered = [label for label in predictions.labels if label is not None]
        self.answered += len(answered)
        self.labels.update(answered)
        self.abstained.update(reason for reason in predictions.abstentions if reason is not None)
        self.languages.update(predictions.languages)

    def add_error(self, line: int, error: str, identifier: Any) -> None:
        self.errors += 1
        if len(self.error_lines) < MAX_ERROR_DETAILS:
            detail = {"line": line, "error": error}
            if identifier is not None:
                detail["id"] = identifier
            self.error_lines.append(detail)

    def extend(self, other: Tally) -> None:
        """Appends ``other``, the tally of the records that follow this one's."""
        for detail in other.error_lines[: MAX_ERROR_DETAILS - len(self.error_lines)]:
            self.error_lines.append({**detail, "line": detail["line"] + self.lines})
        self.lines += other.lines
        self.classified += other.classified
        self.answered += other.answered
        self.errors += other.errors
        for counter in _COUNTERS:
            getattr(self, counter).update(getattr(other, counter))
        self.classify_seconds += other.classify_seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), **{counter: dict(getattr(self, counter)) for counter in _COUNTERS}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Tally:
        # A chunk marker written before abstentions were counted (a deployment while a file was
        # in chunks) has no answered count: every line it classified was answered then.
        counters = {counter: Counter(raw.get(counter, {})) for counter in _COUNTERS}
        return cls(**{**raw, "answered": raw.get("answered", raw["classified"]), **counters})


_COUNTERS = ("labels", "abstained", "languages", "model_versions")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary(
    upload: Upload, tally: Tally, *, chunks: int, started: float, finished: float, labels: tuple[str, ...]
) -> dict[str, Any]:
    version = tally.model_versions.most_common(1)[0][0] if tally.model_versions else None
    return {
        "status": "done",
        "input": upload.key,
        "format": upload.format,
        "predictions": upload.predictions_key,
        "model_version": version,
        "model_versions": dict(tally.model_versions),
        "lines": tally.lines,
        "classified": tally.classified,
        "answered": tally.answered,
        "errors": tally.errors,
        "labels": {label: tally.labels.get(label, 0) for label in labels} | dict(tally.labels),
        "abstained": {reason: tally.abstained.get(reason, 0) for reason in ABSTENTION_REASONS} | dict(tally.abstained),
        "languages": dict(tally.languages.most_common()),
        "error_lines": tally.error_lines,
        "chunks": chunks,
        "timings": {
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "seconds": round(finished - started, 3),
            "classify_seconds": round(tally.classify_seconds, 3),
            "lines_per_second": round(tally.lines / tally.classify_seconds, 1) if tally.classify_seconds else None,
        },
    }


def failure_summary(upload: Upload, reason: str) -> dict[str, Any]:
    return {
        "status": "failed",
        "input": upload.key,
        "error": reason,
        "lines": 0,
        "classified": 0,
        "answered": 0,
        "errors": 0,
    }
