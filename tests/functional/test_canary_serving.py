"""A canary in the model store against moto S3: routed by weight, followed on refresh as it is
started, completed and dropped, each answer naming its version, its failures counted by role."""

from __future__ import annotations

import json
import random

import pytest
from serving_harness import api_event, response_json

from functions import api, contract
from functions.clients import s3_client
from functions.model_store import ModelSource, ModelStore
from functions.object_store import Bucket
from model_build import bundle
from model_build.bundle import Canary, Pointer, Release

pytestmark = pytest.mark.functional

ROUTED = 4000
TOLERANCE = 0.03  # about four standard deviations of the share at 4,000 draws


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def release_of(cloud, version: str) -> Release:
    return Release(version, bundle.sha256_bytes(cloud.get_model_object(f"{version}/{bundle.CARD_FILE}")))


def point(cloud, current: str, canary: str | None = None, weight: float = 0.0) -> None:
    """Writes the pointer as the registry would: ``current`` served, ``canary`` beside it."""
    release = release_of(cloud, current)
    pointer = Pointer(release.version, release.card_sha256, bundle.utc_now())
    if canary is not None:
        pointer = pointer.with_canary(Canary(release_of(cloud, canary), weight))
    cloud.put_model_object(bundle.POINTER_FILE, pointer.to_json())


@pytest.fixture
def candidate(served) -> str:
    """A second version beside the served one (publish_variant promotes it: point back)."""
    version = served.publish_variant(served.version)
    point(served, served.version)
    return version


@pytest.fixture
def make_store(cloud, tmp_path):
    def make(clock=None, draw=None) -> ModelStore:
        source = ModelSource(Bucket(s3_client(), cloud.model_bucket), cloud.model_prefix)
        return ModelStore(
            source, tmp_path / "cache", refresh_seconds=60, threads=1, clock=clock or Clock(),
            draw=draw or random.Random(0).random,
        )  # fmt: skip

    return make


def emitted_metrics(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_work_is_routed_to_the_canary_by_its_weight(served, candidate, make_store):
    point(served, served.version, candidate, 0.25)
    store = make_store()

    versions = [store.route().version for _ in range(ROUTED)]

    assert set(versions) == {served.version, candidate}
    assert abs(versions.count(candidate) / ROUTED - 0.25) < TOLERANCE
    assert store.current().version == served.version


def test_work_with_a_key_always_goes_the_same_way_and_keys_split_by_weight(served, candidate, make_store):
    point(served, served.version, candidate, 0.4)
    store = make_store()

    keys = [f"upload-run-{index}" for index in range(ROUTED)]
    first = [store.route(key).version for key in keys]

    assert [store.route(key).version for key in keys] == first
    assert abs(first.count(candidate) / ROUTED - 0.4) < TOLERANCE


def test_a_warm_store_follows_canary_completion_and_rollback_on_refresh(served, candidate, make_store, caplog):
    clock = Clock()
    store = make_store(clock=clock)
    assert {store.route().version for _ in range(50)} == {served.version}

    point(served, served.version, candidate, 0.5)
    clock.now += 60
    assert {store.route().version for _ in range(200)} == {served.version, candidate}
    canary_model = next(model for model in (store.route() for _ in range(200)) if model.version == candidate)

    point(served, candidate)  # completed: the canary's version is served alone
    clock.now += 60
    assert {store.route().version for _ in range(200)} == {candidate}
    assert store.current() is canary_model  # became the current model without a reload
    assert [r.getMessage() for r in caplog.records].count("loaded a model") == 2

    point(served, served.version)  # rolled back
    clock.now += 60
    assert {store.route().version for _ in range(200)} == {served.version}


def test_dropping_the_canary_leaves_the_current_model_serving_all_the_work(served, candidate, make_store, tmp_path):
    clock = Clock()
    point(served, served.version, candidate, 0.5)
    store = make_store(clock=clock)
    store.current()
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == sorted([served.version, candidate])

    point(served, served.version)
    clock.now += 60

    assert {store.route().version for _ in range(200)} == {served.version}
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [served.version]


def test_a_corrupt_canary_is_refused_and_the_current_model_serves_alone(served, make_store, capsys, caplog):
    corrupt = served.publish_variant(served.version, card_files={bundle.MODEL_FILE: b"flipped bits"})
    point(served, served.version, corrupt, 0.5)
    store = make_store()

    assert {store.route().version for _ in range(200)} == {served.version}

    (refusal,) = [r for r in caplog.records if r.getMessage() == "refused a model bundle"]
    assert (refusal.model_version, refusal.role) == (corrupt, "canary")
    by_role = [m for m in emitted_metrics(capsys.readouterr().out) if "RefusedBundles" in m and "ModelRole" in m]
    assert [(m["ModelRole"], m["service"]) for m in by_role] == [(contract.CANARY_ROLE, contract.METRICS_SERVICE)]


def test_every_answer_of_the_api_names_the_version_that_gave_it(served, candidate, lambda_context, capsys):
    point(served, served.version, candidate, 0.5)
    answered = set()
    for _ in range(60):
        response = api.lambda_handler(api_event("POST", "/classify", {"texts": ["a moving film"]}), lambda_context)
        assert response["statusCode"] == 200
        answered.add(response_json(response)["model_version"])

    assert answered == {served.version, candidate}
    roles = [m for m in emitted_metrics(capsys.readouterr().out) if "ModelRole" in m and "Predictions" in m]
    assert {m["ModelRole"] for m in roles} == {contract.CURRENT_ROLE, contract.CANARY_ROLE}


def test_a_canary_that_fails_a_request_is_counted_as_the_canarys_error(
    served, candidate, lambda_context, capsys, monkeypatch
):
    from functions import dependencies

    point(served, served.version, candidate, 0.5)
    store = dependencies.model_store()
    canary = next(model for model in (store.route() for _ in range(200)) if model.version == candidate)

    def broken(texts, *, explain=False):
        raise RuntimeError("the graph cannot run")

    monkeypatch.setattr(canary, "classify", broken)
    monkeypatch.setattr(store, "route", lambda key=None: canary)
    capsys.readouterr()

    response = api.lambda_handler(api_event("POST", "/classify", {"texts": ["a moving film"]}), lambda_context)

    assert response["statusCode"] == 500
    errors = [m for m in emitted_metrics(capsys.readouterr().out) if "Errors" in m and "ModelRole" in m]
    assert [m["ModelRole"] for m in errors] == [contract.CANARY_ROLE]


def test_all_the_chunks_of_an_upload_are_answered_by_one_version_that_the_summary_names(
    served, candidate, lambda_context, monkeypatch
):
    from functions import dependencies, uploads

    point(served, served.version, candidate, 0.5)
    monkeypatch.setenv("UPLOAD_CHUNK_BYTES", "4096")
    dependencies.reset()
    data = "".join(json.dumps({"text": f"a wonderful film, take {i}"}) + "\n" for i in range(600)).encode()
    answered = set()
    # several files of several chunks: were chunks routed one by one, some file would mix versions
    for index in range(6):
        served.put_data(f"uploads/canary/{index}.jsonl", data)
        served.drain(served.uploads_queue_url, uploads.lambda_handler, lambda_context)
        summary = json.loads(served.get_data(f"results/canary/{index}.jsonl.summary.json"))
        assert summary["chunks"] > 3
        assert summary["model_versions"] == {summary["model_version"]: 600}  # every chunk by one version
        answered.add(summary["model_version"])

    assert answered and answered <= {served.version, candidate}
