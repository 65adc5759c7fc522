"""The model bundle: its files, its card, its checksums and the ``current.json`` pointer.

Layout under a prefix (a folder or ``s3://bucket/prefix``)::

    <version>/model.onnx         int8, the one served
    <version>/model.fp32.onnx    the unquantized export
    <version>/preprocess.json    `model_build.preprocess.PreprocessConfig`
    <version>/card.json          version, architecture, configs, dataset, metrics, sizes and the
                                 sha256 of every other file of the bundle
    current.json                 the pointer: {"version", "card_sha256", "published_at",
                                 "previous": [{"version", "card_sha256", "published_at"}, ...],
                                 "canary"?: {"version", "card_sha256", "weight", "published_at"}}

Publishing writes the data files first, the card next and the pointer last, so a reader that
follows the pointer never meets a half-written bundle; the pointer carries the card's sha256
and the card carries every file's sha256, so the whole chain can be verified. The pointer keeps
the versions it served before (newest first), so a rollback needs no argument, and may name a
canary that serves a share (``weight``) of the work. This module imports no torch: serving
uses it to verify what it downloads.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # serving never publishes: its package carries no storage module
    from model_build.storage import Location

MODEL_FILE = "model.onnx"
FP32_MODEL_FILE = "model.fp32.onnx"
PREPROCESS_FILE = "preprocess.json"
CARD_FILE = "card.json"
POINTER_FILE = "current.json"
DATA_FILES = (MODEL_FILE, FP32_MODEL_FILE, PREPROCESS_FILE)
CARD_FORMAT = 1
MAX_HISTORY = 20  # previous versions the pointer remembers
# a publish that finds the pointer changed between its read and its write reads it again
PUBLISH_ATTEMPTS = 3

_VERSION = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9]+-[0-9a-f]{6}$")


class BundleError(Exception):
    """A bundle or pointer is missing, malformed or fails verification."""


class PointerChangedError(Exception):
    """Another writer changed the pointer between this one's read and its write."""


@dataclass(frozen=True)
class Release:
    """One version as the pointer names it: the sha256 of its card and when it was promoted."""

    version: str
    card_sha256: str
    published_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "card_sha256": self.card_sha256, "published_at": self.published_at}

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Release:
        if not isinstance(raw, dict):
            raise BundleError(f"{POINTER_FILE}: {where} must be an object")
        try:
            version, card_sha256 = raw["version"], raw["card_sha256"]
        except KeyError as missing:
            raise BundleError(f"{POINTER_FILE}: {where} lacks the field {missing}") from None
        if not isinstance(version, str) or not is_valid_version(version):
            raise BundleError(f"{POINTER_FILE}: {where} names an invalid version {version!r}")
        if not isinstance(card_sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", card_sha256):
            raise BundleError(f"{POINTER_FILE}: {where} has an invalid card_sha256")
        return cls(version, card_sha256, str(raw.get("published_at", "")))


@dataclass(frozen=True)
class Canary:
    """A candidate served to ``weight`` (0 < weight < 1) of the work beside the current version."""

    release: Release
    weight: float

    @property
    def version(self) -> str:
        return self.release.version

    def to_dict(self) -> dict[str, Any]:
        return {**self.release.to_dict(), "weight": self.weight}


def check_weight(weight: Any) -> float:
    """``weight`` as a float, if it is a share strictly between 0 and 1; else `BundleError`."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise BundleError(f"a canary weight must be a number between 0 and 1, not {weight!r}")
    if not 0 < weight < 1:
        raise BundleError(f"a canary weight must be above 0 and below 1, not {weight}")
    return float(weight)


@dataclass(frozen=True)
class Pointer:
    """``current.json``: the version served, the ones served before it, and an optional canary."""

    version: str
    card_sha256: str
    published_at: str
    previous: tuple[Release, ...] = ()  # newest first
    canary: Canary | None = None

    @property
    def release(self) -> Release:
        return Release(self.version, self.card_sha256, self.published_at)

    def promoted(self, release: Release) -> Pointer:
        """``release`` served instead of this version, which heads the history; no canary."""
        history = (self.release, *(entry for entry in self.previous if entry.version != release.version))
        return Pointer(release.version, release.card_sha256, release.published_at, history[:MAX_HISTORY])

    def with_canary(self, canary: Canary | None) -> Pointer:
        if canary is not None and canary.version == self.version:
            raise BundleError(f"{self.version} is the version served: a canary must be another one")
        return replace(self, canary=canary)

    def rolled_back(self) -> Pointer:
        """The previous version served again, out of the history; `BundleError` when there is none."""
        if not self.previous:
            raise BundleError(f"{POINTER_FILE} names no previous version to roll back to")
        back, *rest = self.previous
        return Pointer(back.version, back.card_sha256, utc_now(), tuple(rest))

    def to_json(self) -> bytes:
        document: dict[str, Any] = {**self.release.to_dict(), "previous": [entry.to_dict() for entry in self.previous]}
        if self.canary is not None:
            document["canary"] = self.canary.to_dict()
        return json_bytes(document)

    @classmethod
    def from_json(cls, data: bytes) -> Pointer:
        """Reads every pointer this project wrote, including those from before the history."""
        raw = _load_object(data, POINTER_FILE)
        current = Release.from_dict(raw, "the pointer")
        previous = raw.get("previous", [])
        if not isinstance(previous, list):
            raise BundleError(f"{POINTER_FILE}: previous must be a list")
        history = tuple(Release.from_dict(entry, f"previous[{i}]") for i, entry in enumerate(previous))
        canary = None
        if raw.get("canary") is not None:
            release = Release.from_dict(raw["canary"], "the canary")
            try:
                weight = check_weight(raw["canary"].get("weight"))
            except BundleError as error:
                raise BundleError(f"{POINTER_FILE}: {error}") from None
            if release.version == current.version:
                raise BundleError(f"{POINTER_FILE}: the canary names the version served")
            canary = Canary(release, weight)
        return cls(current.version, current.card_sha256, current.published_at, history, canary)


def new_version(architecture: str, now: datetime | None = None) -> str:
    """Sortable and unique: ``20261128T133500Z-bow-1a2b3c``."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{architecture.lower()}-{secrets.token_hex(3)}"


def is_valid_version(version: str) -> bool:
    return bool(_VERSION.match(version))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def describe_files(folder: Path, names: tuple[str, ...] = DATA_FILES) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256": ..., "bytes": ...}}`` for the card."""
    return {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size} for name in names}


def verify_file(card: dict[str, Any], name: str, data_or_path: bytes | Path) -> None:
    """Raises `BundleError` unless the file matches the sha256 the card records for it."""
    expected = card.get("files", {}).get(name, {}).get("sha256")
    if not expected:
        raise BundleError(f"the card of {card.get('version')} records no sha256 for {name}")
    actual = sha256_bytes(data_or_path) if isinstance(data_or_path, bytes) else sha256_file(data_or_path)
    if actual != expected:
        raise BundleError(f"{name} of {card.get('version')} fails verification (sha256 {actual[:12]}…)")


def parse_card(data: bytes, expected_sha256: str | None = None) -> dict[str, Any]:
    if expected_sha256 is not None and sha256_bytes(data) != expected_sha256:
        raise BundleError(f"{CARD_FILE} does not match the sha256 in {POINTER_FILE}")
    card = _load_object(data, CARD_FILE)
    for field in ("version", "architecture", "files", "metrics"):
        if field not in card:
            raise BundleError(f"{CARD_FILE} lacks the field {field!r}")
    if not is_valid_version(str(card["version"])):
        raise BundleError(f"{CARD_FILE} names an invalid version {card['version']!r}")
    return card


def publish(location: Location, folder: Path, card: dict[str, Any], *, promote: bool) -> Pointer | None:
    """Writes ``folder``'s bundle under ``<version>/`` and, if ``promote``, the pointer last; the
    version served until then heads the pointer's history (a canary is dropped)."""
    version = card["version"]
    for name in DATA_FILES:
        location.put_file(f"{version}/{name}", folder / name)
    card_data = json_bytes(card)
    location.put_bytes(f"{version}/{CARD_FILE}", card_data)
    if not promote:
        return None
    release = Release(version, sha256_bytes(card_data), utc_now())
    for attempt in range(1, PUBLISH_ATTEMPTS + 1):
        try:
            return change_pointer(location, lambda old: promoted(old, release))
        except PointerChangedError:  # another writer between our read and our write: read again
            if attempt == PUBLISH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def promoted(pointer: Pointer | None, release: Release) -> Pointer:
    """The pointer that serves ``release``: ``pointer.promoted``, or a first one without history."""
    if pointer is None:
        return Pointer(release.version, release.card_sha256, release.published_at)
    return pointer.promoted(release)


def change_pointer(
    location: Location, change: Callable[[Pointer | None], Pointer], *, tolerate_invalid: bool = True
) -> Pointer:
    """Reads the pointer, writes ``change(pointer)`` over it only if it has not changed since,
    and returns what it wrote; `PointerChangedError` when another writer came in between. An
    invalid pointer is replaced (its history lost) unless ``tolerate_invalid`` is False."""
    tagged = location.get_tagged(POINTER_FILE)
    try:
        old = None if tagged is None else Pointer.from_json(tagged.data)
    except BundleError:
        if not tolerate_invalid:
            raise
        old = None
    pointer = change(old)
    if not location.put_if_unchanged(POINTER_FILE, pointer.to_json(), None if tagged is None else tagged.tag):
        raise PointerChangedError(f"{location.url}/{POINTER_FILE} changed since it was read; nothing written, retry")
    return pointer


def read_pointer(location: Location) -> Pointer | None:
    data = location.get_bytes(POINTER_FILE)
    return None if data is None else Pointer.from_json(data)


def _load_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{name} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise BundleError(f"{name} must hold a JSON object")
    return raw
