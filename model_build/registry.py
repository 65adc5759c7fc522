"""The model registry and lifecycle: what a store of bundles holds and which version it serves.

    python -m model_build.registry list --store s3://models-bucket/models
    python -m model_build.registry show 20261128T133500Z-bow-1a2b3c --store artifacts/models
    python -m model_build.registry promote 20261128T133500Z-bow-1a2b3c --canary 0.1 --store ...
    python -m model_build.registry promote 20261128T133500Z-bow-1a2b3c --store ...   (completes it)
    python -m model_build.registry rollback --store ...
    python -m model_build.registry verify 20261128T133500Z-bow-1a2b3c --store ...

The flags of each command are the fields of its dataclass below; `model_build.lifecycle` does
the work. The functions follow ``current.json`` within ``MODEL_REFRESH_SECONDS``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model_build import bundle, command_line, lifecycle
from model_build.bundle import BundleError, Pointer, PointerChangedError
from model_build.command_line import OptionError, option
from model_build.storage import Location, StorageError, check_url, open_location

EXIT_FAILED = 1
EXIT_CONFLICT = 3  # another writer changed the pointer first: nothing was written, run it again


@dataclass(frozen=True, kw_only=True)
class StoreOptions:
    """What the store publishes: every version with its architecture, labels, int8 accuracy,
    model size and date, which one is served (and the canary), and the pointer's history."""

    store: str = option(
        help="where the bundles are: a folder or s3://bucket/prefix (honours AWS_ENDPOINT_URL), "
        "the --out of model_build.train"
    )

    def __post_init__(self) -> None:
        try:
            check_url(self.store)
        except StorageError as error:
            raise OptionError("store", f"is unusable: {error}") from None


@dataclass(frozen=True, kw_only=True)
class RollbackOptions(StoreOptions):
    """Drops the canary if the pointer names one; otherwise serves the previous version again
    (the newest of the pointer's history)."""


@dataclass(frozen=True, kw_only=True)
class VersionOptions(StoreOptions):
    """Prints the card of VERSION: architecture, labels, metrics, data, files, quality gate."""

    version: str = option(flag="version", metavar="VERSION", help="a version of the store, as list shows it")


@dataclass(frozen=True, kw_only=True)
class VerifyOptions(VersionOptions):
    """Runs the checks promote runs, and reports them: every sha256 of the card, the
    preprocessing rebuilt, the ONNX model loaded in onnxruntime, a smoke prediction."""


@dataclass(frozen=True, kw_only=True)
class PromoteOptions(VersionOptions):
    """Verifies VERSION (as verify does) and only then rewrites the pointer: VERSION is served
    instead of the current version, which heads the history (promoting the canary's version
    completes the canary); with --canary, VERSION serves that share of the work beside it."""

    canary: float | None = option(
        default=None,
        metavar="WEIGHT",
        help="serve VERSION as a canary to this share of the requests, jobs and uploads (above 0, below 1, "
        "e.g. 0.1) beside the current version (default: replace the current version)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.canary is not None:
            try:
                bundle.check_weight(self.canary)
            except BundleError:
                raise OptionError("canary", f"must be above 0 and below 1, not {self.canary}") from None


COMMANDS: dict[str, tuple[type, str]] = {
    "list": (StoreOptions, "list the published versions and what is served"),
    "show": (VersionOptions, "print a version's card"),
    "promote": (PromoteOptions, "verify a version, then serve it (or canary it with --canary WEIGHT)"),
    "rollback": (RollbackOptions, "drop the canary, or else go back to the previous version"),
    "verify": (VerifyOptions, "check a version as promote would, and report"),
}


def _parser_arguments() -> dict[str, str]:
    return {
        "prog": "python -m model_build.registry",
        "description": (
            "The model registry: the versions published under --store (by model_build.train) and the "
            "pointer current.json that names the one served, an optional canary and the versions "
            "served before. Every change is verified first and written only if current.json has not "
            "changed since it was read. The functions pick a change up within MODEL_REFRESH_SECONDS."
        ),
        "epilog": (
            f"Exit status: 0 done; {EXIT_FAILED} failed (unknown version, nothing served, a bundle that "
            f"fails verification, an unreachable store); {EXIT_CONFLICT} the pointer changed meanwhile "
            f"(nothing written: run it again); {command_line.USAGE_ERROR} a bad command line."
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    name, options = command_line.parse_command(COMMANDS, argv, **_parser_arguments())
    try:
        location = open_location(options.store)
        print("\n".join(_RUN[name](location, options)))
    except PointerChangedError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFLICT
    except (BundleError, StorageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # the scratch folder verification writes the bundle into
        print(f"error: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


# -- the commands: each returns the lines it prints --------------------------------------------


def list_versions(location: Location, options: StoreOptions) -> list[str]:
    pointer = lifecycle.pointer(location)
    entries = lifecycle.published(location)
    if not entries:
        raise lifecycle.UnknownVersionError(f"{location.url} holds no published version")
    roles = _roles(pointer)
    rows = [("", "version", "arch", "labels", "int8 acc", "model", "created")]
    for entry in entries:
        accuracy = "-" if entry.int8_accuracy is None else f"{entry.int8_accuracy:.4f}"
        size = "-" if entry.model_bytes is None else _size(entry.model_bytes)
        labels = ",".join(entry.labels) if entry.card else f"({entry.problem})"
        rows.append((roles.get(entry.version, ""), entry.version, entry.architecture, labels, accuracy, size,
                     entry.created_at))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in rows]  # fmt: skip
    return [line.rstrip() for line in lines] + ["", *_pointer_lines(location, pointer)]


def show(location: Location, options: VersionOptions) -> list[str]:
    card = lifecycle.card_of(location, options.version)
    pointer = lifecycle.pointer(location)
    role = _roles(pointer).get(options.version, "not served")
    metrics = card.get("metrics", {})
    accuracy = metrics.get("test_accuracy", {})
    dataset = card.get("dataset", {})
    gate = card.get("quality_gate", {})
    lines = [
        f"version       {card['version']} ({role})",
        f"architecture  {card['architecture']}",
        f"labels        {', '.join(map(str, card.get('labels', [])))}",
        f"created       {card.get('created_at', '?')}",
        "accuracy      " + ", ".join(f"{name} {value:.4f}" for name, value in accuracy.items()),
        f"dataset       {dataset.get('name', '?')} (sha256 {str(dataset.get('sha256', '?'))[:12]}…, "
        f"{dataset.get('train', '?')} train, {dataset.get('test', '?')} test)",
        f"languages     {', '.join(card.get('languages', {}).get('supported', [])) or '?'}",
        f"quality gate  {'passed' if gate.get('passed') else 'FAILED'}"
        + (f": {'; '.join(gate['reasons'])}" if gate.get("reasons") else ""),
        "files",
        *(
            f"  {name:<16}{_size(info.get('bytes', 0)):>10}  sha256 {info.get('sha256', '?')}"
            for name, info in sorted(card.get("files", {}).items())
        ),  # fmt: skip
    ]
    return lines


def promote(location: Location, options: PromoteOptions) -> list[str]:
    before, after = lifecycle.promote(location, options.version, canary=options.canary)
    if options.canary is not None:
        done = f"{options.version} is the canary: {_percent(options.canary)} of the work, beside {after.version}"
    elif before is not None and before.canary is not None and before.canary.version == options.version:
        done = f"canary completed: {options.version} is served (was {before.version})"
    else:
        done = f"promoted {options.version}" + (f" (was {before.version})" if before is not None else "")
        if before is not None and before.canary is not None:
            done += f"; the canary {before.canary.version} is dropped"
    return ["verified " + options.version, done, *_pointer_lines(location, after)]


def rollback(location: Location, options: RollbackOptions) -> list[str]:
    before, after = lifecycle.rollback(location)
    if before.canary is not None:
        done = f"dropped the canary {before.canary.version}; {after.version} serves all the work"
    else:
        done = f"rolled back from {before.version} to {after.version}"
    return [done, *_pointer_lines(location, after)]


def verify(location: Location, options: VerifyOptions) -> list[str]:
    verified = lifecycle.verify(location, options.version)
    return [*(f"ok  {check}" for check in verified.checks), f"{options.version} can be promoted"]


_RUN: dict[str, Any] = {"list": list_versions, "show": show, "promote": promote, "rollback": rollback,
                        "verify": verify}  # fmt: skip


def _roles(pointer: Pointer | None) -> dict[str, str]:
    if pointer is None:
        return {}
    roles = {entry.version: f"previous {i}" for i, entry in reversed(list(enumerate(pointer.previous, 1)))}
    roles[pointer.version] = "served"
    if pointer.canary is not None:
        roles[pointer.canary.version] = f"canary {_percent(pointer.canary.weight)}"
    return roles


def _pointer_lines(location: Location, pointer: Pointer | None) -> list[str]:
    if pointer is None:
        return [f"{location.url}/{bundle.POINTER_FILE}: nothing is served"]
    lines = [f"{location.url}/{bundle.POINTER_FILE}:", f"  served     {pointer.version}  since {pointer.published_at}"]
    if pointer.canary is not None:
        canary = pointer.canary
        lines.append(f"  canary     {canary.version}  {_percent(canary.weight)} since {canary.release.published_at}")
    for i, entry in enumerate(pointer.previous, 1):
        lines.append(f"  previous {i} {entry.version}  since {entry.published_at}")
    return lines


def _percent(weight: float) -> str:
    return f"{weight * 100:g}%"


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


if __name__ == "__main__":
    sys.exit(main())
