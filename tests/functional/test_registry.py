"""``python -m model_build.registry`` on a folder and on moto S3: list, show, verify, promote
(whole and as a canary), rollback, a corrupt candidate refused, two promotes at once."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from model_build import bundle, lifecycle, registry
from model_build.bundle import PointerChangedError
from model_build.storage import LocalLocation, Location, S3Location, open_location

pytestmark = pytest.mark.functional

BUCKET = "registry-test-models"


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path, tiny_bundle_root) -> str:
    """The tiny bundle root (one version, promoted) as a folder or under s3://BUCKET/models."""
    if request.param == "folder":
        yield str(Path(shutil.copytree(tiny_bundle_root, tmp_path / "models")))
        return
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for path in sorted(tiny_bundle_root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                s3.upload_file(str(path), BUCKET, f"models/{path.relative_to(tiny_bundle_root)}")
        yield f"s3://{BUCKET}/models"


def served_version(store: str) -> str:
    return bundle.read_pointer(open_location(store)).version


def add_version(store: str, from_version: str, *, flip_model_byte: bool = False) -> str:
    """Publishes a copy of ``from_version`` as a new version, without promoting it; with
    ``flip_model_byte`` its model.onnx differs from what its card says by one byte."""
    location = open_location(store)
    version = bundle.new_version("bow")
    card = json.loads(location.get_bytes(f"{from_version}/{bundle.CARD_FILE}"))
    card["version"] = version
    for name in bundle.DATA_FILES:
        data = location.get_bytes(f"{from_version}/{name}")
        if flip_model_byte and name == bundle.MODEL_FILE:
            data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
        location.put_bytes(f"{version}/{name}", data)
    location.put_bytes(f"{version}/{bundle.CARD_FILE}", bundle.json_bytes(card))
    return version


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = registry.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# -- reading -----------------------------------------------------------------------------------


def test_list_shows_every_version_and_marks_the_served_one(store, capsys):
    served = served_version(store)
    other = add_version(store, served)

    status, out, _ = run(capsys, "list", "--store", store)

    assert status == 0
    table, pointer_lines = out.split("\n\n")
    rows = {version: line for line in table.splitlines() for version in (served, other) if version in line}
    assert rows[served].startswith("served") and not rows[other].startswith("served")
    card = lifecycle.card_of(open_location(store), served)
    accuracy = f"{card['metrics']['test_accuracy']['onnx_int8']:.4f}"
    for cell in ("bow", "negative,positive", accuracy, "kB", card["created_at"]):
        assert cell in rows[served]
    assert f"served     {served}" in pointer_lines


def test_show_prints_the_card_summary(store, capsys):
    served = served_version(store)

    status, out, _ = run(capsys, "show", served, "--store", store)

    assert status == 0
    assert f"version       {served} (served)" in out
    assert "labels        negative, positive" in out
    assert "quality gate  passed" in out
    assert bundle.MODEL_FILE in out


@pytest.mark.parametrize("command", ["show", "verify", "promote"])
def test_an_unknown_version_is_one_error_line(store, capsys, command):
    status, out, err = run(capsys, command, bundle.new_version("bow"), "--store", store)

    assert status == registry.EXIT_FAILED
    assert "holds no version" in one_error_line(err)


def test_a_store_that_cannot_be_reached_is_one_error_line(capsys, tmp_path):
    with mock_aws():
        status, _, err = run(capsys, "list", "--store", "s3://no-such-bucket-here/models")
    assert status == registry.EXIT_FAILED
    assert "no-such-bucket-here" in one_error_line(err)
    status, _, err = run(capsys, "list", "--store", str(tmp_path / "absent"))
    assert status == registry.EXIT_FAILED and "does not exist" in one_error_line(err)


def test_help_names_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        registry.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert all(command in out for command in registry.COMMANDS)


# -- verify and promote ------------------------------------------------------------------------


def test_verify_reports_every_check(store, capsys):
    status, out, _ = run(capsys, "verify", served_version(store), "--store", store)

    assert status == 0
    assert "sha256 of model.fp32.onnx, model.onnx, preprocess.json match the card" in out
    assert "loads in onnxruntime" in out and "smoke prediction" in out


def test_promote_serves_the_version_and_keeps_the_previous_one(store, capsys):
    old = served_version(store)
    new = add_version(store, old)

    status, out, _ = run(capsys, "promote", new, "--store", store)

    assert status == 0 and f"promoted {new} (was {old})" in out
    pointer = bundle.read_pointer(open_location(store))
    assert (pointer.version, [entry.version for entry in pointer.previous]) == (new, [old])
    card_data = open_location(store).get_bytes(f"{new}/{bundle.CARD_FILE}")
    assert pointer.card_sha256 == bundle.sha256_bytes(card_data)
    _, listing, _ = run(capsys, "list", "--store", store)
    assert any(line.startswith("previous 1") and old in line for line in listing.splitlines())


def test_a_candidate_with_one_changed_byte_is_never_promoted(store, capsys):
    old = served_version(store)
    pointer_before = open_location(store).get_bytes(bundle.POINTER_FILE)
    corrupt = add_version(store, old, flip_model_byte=True)

    status, _, err = run(capsys, "promote", corrupt, "--store", store)

    assert status == registry.EXIT_FAILED
    assert f"model.onnx of {corrupt} fails verification" in one_error_line(err)
    assert open_location(store).get_bytes(bundle.POINTER_FILE) == pointer_before
    status, _, err = run(capsys, "verify", corrupt, "--store", store)
    assert status == registry.EXIT_FAILED and "fails verification" in one_error_line(err)


def test_a_candidate_whose_graph_onnxruntime_cannot_load_is_refused(store, capsys):
    location = open_location(store)
    version = add_version(store, served_version(store))
    card = json.loads(location.get_bytes(f"{version}/{bundle.CARD_FILE}"))
    garbage = b"not an onnx graph"
    card["files"][bundle.MODEL_FILE] = {"sha256": bundle.sha256_bytes(garbage), "bytes": len(garbage)}
    location.put_bytes(f"{version}/{bundle.MODEL_FILE}", garbage)
    location.put_bytes(f"{version}/{bundle.CARD_FILE}", bundle.json_bytes(card))

    status, _, err = run(capsys, "promote", version, "--store", store)

    assert status == registry.EXIT_FAILED and "onnxruntime cannot load" in one_error_line(err)
    assert served_version(store) != version


def test_the_first_promote_of_a_store_writes_the_pointer(store, capsys):
    version = served_version(store)
    location = open_location(store)
    if isinstance(location, S3Location):
        location.client.delete_object(Bucket=location.bucket, Key=location.prefix + bundle.POINTER_FILE)
    else:
        (location.root / bundle.POINTER_FILE).unlink()

    assert run(capsys, "promote", version, "--canary", "0.5", "--store", store)[0] == registry.EXIT_FAILED
    assert run(capsys, "promote", version, "--store", store)[0] == 0
    assert served_version(store) == version


# -- canary and rollback -----------------------------------------------------------------------


def test_a_canary_is_completed_by_promoting_its_version(store, capsys):
    old = served_version(store)
    new = add_version(store, old)

    status, out, _ = run(capsys, "promote", new, "--canary", "0.1", "--store", store)
    assert status == 0 and "10% of the work" in out
    canaried = bundle.read_pointer(open_location(store))
    assert (canaried.version, canaried.canary.version, canaried.canary.weight) == (old, new, 0.1)
    _, listing, _ = run(capsys, "list", "--store", store)
    assert any(line.startswith("canary 10%") and new in line for line in listing.splitlines())

    status, out, _ = run(capsys, "promote", new, "--store", store)
    assert status == 0 and "canary completed" in out
    completed = bundle.read_pointer(open_location(store))
    assert (completed.version, completed.canary, completed.previous[0].version) == (new, None, old)


def test_rollback_drops_a_canary_then_returns_to_the_previous_version(store, capsys):
    first = served_version(store)
    second = add_version(store, first)
    candidate = add_version(store, first)
    assert run(capsys, "promote", second, "--store", store)[0] == 0
    assert run(capsys, "promote", candidate, "--canary", "0.2", "--store", store)[0] == 0

    status, out, _ = run(capsys, "rollback", "--store", store)
    assert status == 0 and f"dropped the canary {candidate}" in out
    pointer = bundle.read_pointer(open_location(store))
    assert (pointer.version, pointer.canary) == (second, None)

    status, out, _ = run(capsys, "rollback", "--store", store)
    assert status == 0 and f"rolled back from {second} to {first}" in out
    pointer = bundle.read_pointer(open_location(store))
    assert (pointer.version, pointer.previous) == (first, ())

    status, _, err = run(capsys, "rollback", "--store", store)
    assert status == registry.EXIT_FAILED and "no previous version" in one_error_line(err)


def test_a_canary_weight_outside_0_to_1_is_refused_by_the_command_line(store, capsys):
    with pytest.raises(SystemExit) as exit_info:
        registry.main(["promote", served_version(store), "--canary", "1", "--store", store])
    assert exit_info.value.code == 2
    assert "--canary must be above 0 and below 1" in capsys.readouterr().err


# -- two writers -------------------------------------------------------------------------------


def test_of_two_promotes_from_the_same_pointer_one_wins_and_the_other_is_told(store, monkeypatch):
    served = served_version(store)
    candidates = [add_version(store, served), add_version(store, served)]
    location_type = type(open_location(store))
    read_tagged, write_if = location_type.get_tagged, location_type.put_if_unchanged
    both_read = threading.Barrier(2, timeout=60)
    first_written = threading.Event()

    waited: set[str] = set()

    def get_tagged(self: Location, key: str):
        tagged = read_tagged(self, key)
        name = threading.current_thread().name
        if key == bundle.POINTER_FILE and name in candidates and name not in waited:
            waited.add(name)
            both_read.wait()  # neither writes before both have read the same pointer
        return tagged

    def put_if_unchanged(self: Location, key: str, data: bytes, tag):
        if threading.current_thread().name == candidates[1]:
            first_written.wait(timeout=60)  # the second write comes after the first one
        try:
            return write_if(self, key, data, tag)
        finally:
            first_written.set()

    monkeypatch.setattr(location_type, "get_tagged", get_tagged)
    monkeypatch.setattr(location_type, "put_if_unchanged", put_if_unchanged)
    outcomes: dict[str, object] = {}

    def promote(location: Location, version: str) -> None:
        try:
            outcomes[version] = lifecycle.promote(location, version)[1].version
        except Exception as error:  # noqa: BLE001 - the test looks at what each got
            outcomes[version] = error

    # a client each, made here: boto3 does not make clients safely in several threads at once
    threads = [
        threading.Thread(target=promote, args=(open_location(store), version), name=version) for version in candidates
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes[candidates[0]] == candidates[0], outcomes
    assert isinstance(outcomes[candidates[1]], PointerChangedError)
    assert "changed since it was read" in str(outcomes[candidates[1]])
    pointer = bundle.read_pointer(open_location(store))
    assert (pointer.version, [entry.version for entry in pointer.previous]) == (candidates[0], [served])


def test_many_concurrent_writers_in_a_folder_change_the_pointer_once(tmp_path):
    location = LocalLocation(tmp_path)
    location.put_bytes("current.json", b"first")
    tag = location.get_tagged("current.json").tag
    start = threading.Barrier(8, timeout=60)
    results: list[bool] = []

    def write(index: int) -> None:
        start.wait()
        results.append(location.put_if_unchanged("current.json", f"writer {index}".encode(), tag))

    threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == [False] * 7 + [True]
    assert location.get_bytes("current.json").startswith(b"writer ")


def test_a_lost_race_is_one_error_line_and_its_own_exit_status(store, capsys, monkeypatch):
    new = add_version(store, served_version(store))
    monkeypatch.setattr(type(open_location(store)), "put_if_unchanged", lambda self, key, data, tag: False)

    status, _, err = run(capsys, "promote", new, "--store", store)

    assert status == registry.EXIT_CONFLICT
    assert "changed since it was read; nothing written, retry" in one_error_line(err)


# -- training's publish ------------------------------------------------------------------------


def test_publishing_a_promoted_bundle_keeps_the_previous_version_in_the_history(store, tiny_bundle_root):
    old = served_version(store)
    card = json.loads((tiny_bundle_root / old / bundle.CARD_FILE).read_text())
    card["version"] = bundle.new_version("bow")

    bundle.publish(open_location(store), tiny_bundle_root / old, card, promote=True)

    pointer = bundle.read_pointer(open_location(store))
    assert (pointer.version, [entry.version for entry in pointer.previous]) == (card["version"], [old])


def test_a_rollback_to_a_previous_version_that_was_damaged_since_is_refused(store, capsys):
    first = served_version(store)
    second = add_version(store, first)
    assert run(capsys, "promote", second, "--store", store)[0] == 0
    location = open_location(store)
    location.put_bytes(f"{first}/{bundle.MODEL_FILE}", b"damaged since it was served")

    status, _, err = run(capsys, "rollback", "--store", store)

    assert status == registry.EXIT_FAILED and f"model.onnx of {first} fails verification" in one_error_line(err)
    assert served_version(store) == second
