"""The registry's operations on a store of bundles: what is published, verifying a version,
promoting it (whole or as a canary) and rolling back, each a conditional rewrite of the pointer.

Every change reads ``current.json``, works out the new pointer and writes it only if nobody
changed it in between (`bundle.change_pointer`); a writer that loses that race gets
`PointerChangedError` and nothing is written, so two operators cannot undo each other silently.
A version is verified before any pointer names it: every file the card lists against its
sha256, the preprocessing rebuilt from ``preprocess.json``, the int8 graph loaded in
onnxruntime by the serving class itself and one smoke prediction run through it.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.sentiment_model import SentimentModel
from model_build import bundle
from model_build.bundle import BundleError, Canary, Pointer, PointerChangedError, Release
from model_build.storage import Location

SMOKE_TEXT = "A wonderful film: the acting was superb and I enjoyed every minute of it."


class UnknownVersionError(BundleError):
    """The store holds no bundle of that version."""


class NothingServedError(BundleError):
    """The store has no pointer yet."""


@dataclass(frozen=True)
class Published:
    """One version in the store, as ``list`` shows it."""

    version: str
    card: dict[str, Any] | None  # None when the card is missing or unreadable
    problem: str | None = None

    @property
    def architecture(self) -> str:
        return str((self.card or {}).get("architecture", "?"))

    @property
    def labels(self) -> list[str]:
        return [str(label) for label in (self.card or {}).get("labels", [])]

    @property
    def int8_accuracy(self) -> float | None:
        value = (self.card or {}).get("metrics", {}).get("test_accuracy", {}).get("onnx_int8")
        return value if isinstance(value, (int, float)) else None

    @property
    def model_bytes(self) -> int | None:
        value = (self.card or {}).get("files", {}).get(bundle.MODEL_FILE, {}).get("bytes")
        return value if isinstance(value, int) else None

    @property
    def created_at(self) -> str:
        return str((self.card or {}).get("created_at", ""))


@dataclass(frozen=True)
class Verified:
    card: dict[str, Any]
    card_sha256: str
    checks: tuple[str, ...]  # what was checked, in order, for the report


def published(location: Location) -> list[Published]:
    """Every version under the store, oldest first (versions sort by their creation time)."""
    entries = []
    for name in location.folders():
        if not bundle.is_valid_version(name):
            continue
        data = location.get_bytes(f"{name}/{bundle.CARD_FILE}")
        if data is None:
            entries.append(Published(name, None, f"no {bundle.CARD_FILE}"))
            continue
        try:
            entries.append(Published(name, bundle.parse_card(data)))
        except BundleError as error:
            entries.append(Published(name, None, str(error)))
    return entries


def pointer(location: Location) -> Pointer | None:
    return bundle.read_pointer(location)


def card_of(location: Location, version: str) -> dict[str, Any]:
    return bundle.parse_card(_card_data(location, version))


def verify(location: Location, version: str) -> Verified:
    """Every check a version must pass before the pointer may name it; `BundleError` at the first failure."""
    card_data = _card_data(location, version)
    card = bundle.parse_card(card_data)
    if card["version"] != version:
        raise BundleError(f"the card of {version} names the version {card['version']}")
    files = card.get("files")
    if not isinstance(files, dict) or not {bundle.MODEL_FILE, bundle.PREPROCESS_FILE} <= set(files):
        raise BundleError(f"the card of {version} does not list {bundle.MODEL_FILE} and {bundle.PREPROCESS_FILE}")
    checks = []
    with tempfile.TemporaryDirectory(prefix="verify-") as scratch:
        folder = Path(scratch)
        (folder / bundle.CARD_FILE).write_bytes(card_data)
        for name in sorted(files):
            if "/" in name or name.startswith("."):
                raise BundleError(f"the card of {version} lists an unusable file name {name!r}")
            data = location.get_bytes(f"{version}/{name}")
            if data is None:
                raise BundleError(f"{version}/{name} is listed in the card but does not exist")
            bundle.verify_file(card, name, data)
            (folder / name).write_bytes(data)
        checks.append(f"sha256 of {', '.join(sorted(files))} match the card")
        # the serving class rebuilds the preprocessing and loads the graph as the functions do
        model = SentimentModel.from_folder(folder)
        checks.append(f"preprocessing rebuilt, {bundle.MODEL_FILE} loads in onnxruntime")
        checks.append(_smoke(model))
    return Verified(card, bundle.sha256_bytes(card_data), tuple(checks))


def _smoke(model: SentimentModel) -> str:
    (probabilities,) = model.probabilities([SMOKE_TEXT]).tolist()
    if len(probabilities) != len(model.labels) or not all(math.isfinite(p) and 0 <= p <= 1 for p in probabilities):
        raise BundleError(f"the smoke prediction of {model.version} gave unusable probabilities")
    if abs(sum(probabilities) - 1) > 1e-3:
        raise BundleError(f"the smoke prediction of {model.version} has probabilities that sum to {sum(probabilities)}")
    (prediction,) = model.classify([SMOKE_TEXT])
    if prediction.label is not None and prediction.label not in model.labels:
        raise BundleError(f"the smoke prediction of {model.version} answered an unknown label")
    answer = prediction.label if prediction.label is not None else f"abstained ({prediction.abstained.reason})"
    return f"smoke prediction: {answer}"


def promote(location: Location, version: str, *, canary: float | None = None) -> tuple[Pointer | None, Pointer]:
    """Verifies ``version`` and makes the pointer serve it: in place of the current version
    (which heads the history; a canary of it completes), or with ``canary`` as a canary
    taking that share of the work. The pointer before and after."""
    weight = None if canary is None else bundle.check_weight(canary)
    verified = verify(location, version)
    release = Release(version, verified.card_sha256, bundle.utc_now())
    before: list[Pointer | None] = []

    def change(old: Pointer | None) -> Pointer:
        before.append(old)
        if weight is None:
            if old is not None and old.version == version and old.card_sha256 == release.card_sha256:
                raise BundleError(f"{version} is already the version served")
            return bundle.promoted(old, release)
        if old is None:
            raise NothingServedError("nothing is served yet: promote a version without --canary first")
        return old.with_canary(Canary(release, weight))

    after = _change(location, change)
    return before[-1], after


def rollback(location: Location) -> tuple[Pointer, Pointer]:
    """Drops the canary if there is one, otherwise serves the previous version again (verified
    first: it may have been deleted or damaged since it was served)."""
    read = pointer(location)
    back = None
    if read is not None and read.canary is None and read.previous:
        back = read.previous[0]
        if verify(location, back.version).card_sha256 != back.card_sha256:
            raise BundleError(f"the card of {back.version} changed since it was served: promote it instead")
    before: list[Pointer] = []

    def change(old: Pointer | None) -> Pointer:
        if old is None:
            raise NothingServedError("nothing is served yet: there is nothing to roll back")
        if old.canary is None and old.previous and old.previous[0] != back:
            raise PointerChangedError(f"{location.url}/{bundle.POINTER_FILE} changed since it was read; retry")
        before.append(old)
        return old.with_canary(None) if old.canary is not None else old.rolled_back()

    after = _change(location, change)
    return before[-1], after


def _change(location: Location, change: Callable[[Pointer | None], Pointer]) -> Pointer:
    # an invalid pointer is an operator's problem to look at, not one to overwrite
    return bundle.change_pointer(location, change, tolerate_invalid=False)


def _card_data(location: Location, version: str) -> bytes:
    if not bundle.is_valid_version(version):
        raise UnknownVersionError(f"{version!r} is not a version name (like 20261128T133500Z-bow-1a2b3c)")
    data = location.get_bytes(f"{version}/{bundle.CARD_FILE}")
    if data is None:
        raise UnknownVersionError(f"{location.url} holds no version {version}")
    return data
