"""The pointer ``current.json``: its history and canary, and the pointers written before them."""

from __future__ import annotations

import json

import pytest

from model_build import bundle
from model_build.bundle import BundleError, Canary, Pointer, Release

pytestmark = pytest.mark.unit

A, B, C = (bundle.new_version("bow") for _ in range(3))
SHA = {version: bundle.sha256_bytes(version.encode()) for version in (A, B, C)}


def release(version: str) -> Release:
    return Release(version, SHA[version], "2026-12-01T00:00:00Z")


def test_a_pointer_written_before_the_history_is_read_with_an_empty_one():
    old = json.dumps({"version": A, "card_sha256": SHA[A], "published_at": "2026-11-01T00:00:00Z"}).encode()

    pointer = Pointer.from_json(old)

    assert (pointer.version, pointer.previous, pointer.canary) == (A, (), None)


def test_history_and_canary_survive_a_round_trip():
    pointer = bundle.promoted(None, release(A)).promoted(release(B)).with_canary(Canary(release(C), 0.1))

    assert Pointer.from_json(pointer.to_json()) == pointer
    document = json.loads(pointer.to_json())
    assert [entry["version"] for entry in document["previous"]] == [A]
    assert document["canary"] == {**release(C).to_dict(), "weight": 0.1}


def test_promoting_puts_the_served_version_first_in_the_history_and_drops_the_canary():
    pointer = bundle.promoted(None, release(A)).promoted(release(B)).with_canary(Canary(release(C), 0.5))

    completed = pointer.promoted(release(C))

    assert (completed.version, [entry.version for entry in completed.previous], completed.canary) == (C, [B, A], None)
    assert completed.rolled_back().version == B


def test_the_history_keeps_the_newest_versions_up_to_its_bound():
    versions = [bundle.new_version("bow") for _ in range(bundle.MAX_HISTORY + 5)]
    pointer = None
    for version in versions:
        pointer = bundle.promoted(pointer, Release(version, "0" * 64))

    assert [entry.version for entry in pointer.previous] == versions[-2::-1][: bundle.MAX_HISTORY]


@pytest.mark.parametrize(
    "canary, problem",
    [
        ({"version": B, "card_sha256": "0" * 64, "weight": 1.5}, "below 1"),
        ({"version": B, "card_sha256": "0" * 64, "weight": "a lot"}, "a number"),
        ({"version": A, "card_sha256": "0" * 64, "weight": 0.5}, "the version served"),
        ({"version": "latest", "card_sha256": "0" * 64, "weight": 0.5}, "invalid version"),
    ],
)
def test_a_pointer_with_an_unusable_canary_is_refused(canary, problem):
    data = json.dumps({"version": A, "card_sha256": SHA[A], "canary": canary}).encode()

    with pytest.raises(BundleError, match=problem):
        Pointer.from_json(data)


def test_a_canary_of_the_served_version_cannot_be_set():
    with pytest.raises(BundleError, match="must be another"):
        bundle.promoted(None, release(A)).with_canary(Canary(release(A), 0.5))
