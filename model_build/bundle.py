"""The model bundle: its files, its card, its checksums and the ``current.json`` pointer.

Layout under a prefix (a folder or ``s3://bucket/prefix``)::

    <version>/model.onnx         int8, the one served
    <version>/model.fp32.onnx    the unquantized export
    <version>/preprocess.json    `model_build.preprocess.PreprocessConfig`
    <version>/card.json          version, architecture, configs, dataset, metrics, sizes and the
                                 sha256 of every other file of the bundle
    current.json                 {"version": ..., "card_sha256": ..., "published_at": ...}

Publishing writes the data files first, the card next and the pointer last, so a reader that
follows the pointer never meets a half-written bundle; the pointer carries the card's sha256
and the card carries every file's sha256, so the whole chain can be verified. This module
imports no torch: serving uses it to verify what it downloads.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
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

_VERSION = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9]+-[0-9a-f]{6}$")


class BundleError(Exception):
    """A bundle or pointer is missing, malformed or fails verification."""


@dataclass(frozen=True)
class Pointer:
    version: str
    card_sha256: str
    published_at: str

    def to_json(self) -> bytes:
        return json_bytes({"version": self.version, "card_sha256": self.card_sha256, "published_at": self.published_at})

    @classmethod
    def from_json(cls, data: bytes) -> Pointer:
        raw = _load_object(data, POINTER_FILE)
        try:
            version, card_sha256 = raw["version"], raw["card_sha256"]
        except KeyError as missing:
            raise BundleError(f"{POINTER_FILE} lacks the field {missing}") from None
        if not isinstance(version, str) or not is_valid_version(version):
            raise BundleError(f"{POINTER_FILE} names an invalid version {version!r}")
        if not isinstance(card_sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", card_sha256):
            raise BundleError(f"{POINTER_FILE} has an invalid card_sha256")
        return cls(version, card_sha256, str(raw.get("published_at", "")))


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
    """Writes ``folder``'s bundle under ``<version>/`` and, if ``promote``, the pointer last."""
    version = card["version"]
    for name in DATA_FILES:
        location.put_file(f"{version}/{name}", folder / name)
    card_data = json_bytes(card)
    location.put_bytes(f"{version}/{CARD_FILE}", card_data)
    if not promote:
        return None
    pointer = Pointer(version=version, card_sha256=sha256_bytes(card_data), published_at=utc_now())
    location.put_bytes(POINTER_FILE, pointer.to_json())
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
