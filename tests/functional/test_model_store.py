"""The model store against moto S3: load, verify, refresh on schedule, swap, refuse, recover."""

import json

import pytest
from serving_harness import api_event, response_json
from urllib3.exceptions import ProtocolError

from functions import api, dependencies
from functions.clients import s3_client
from functions.model_store import (
    FIRST_BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    NO_MODEL_RETRY_SECONDS,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
)
from functions.object_store import Bucket, StorageError
from model_build import bundle

pytestmark = pytest.mark.functional


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_store(cloud, tmp_path, clock):
    def make(refresh_seconds: float = 60) -> ModelStore:
        source = ModelSource(Bucket(s3_client(), cloud.model_bucket), cloud.model_prefix)
        return ModelStore(source, tmp_path / "cache", refresh_seconds=refresh_seconds, threads=1, clock=clock)

    return make


def refusals(caplog) -> list:
    return [record for record in caplog.records if record.getMessage() == "refused a model bundle"]


def emitted_metrics(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_loads_the_published_version_into_a_folder_of_its_own(served, make_store, tmp_path):
    model = make_store().current()

    assert model.version == served.version
    assert model.card == json.loads(served.get_model_object(f"{served.version}/{bundle.CARD_FILE}"))
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [served.version]
    assert (tmp_path / "cache" / served.version / bundle.MODEL_FILE).is_file()


def test_the_pointer_is_read_again_only_after_the_refresh_interval(served, make_store, clock, tmp_path):
    store = make_store(refresh_seconds=60)
    store.current()
    newer = served.publish_variant(served.version)

    clock.now += 59
    assert store.current().version == served.version
    clock.now += 1
    assert store.current().version == newer
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [newer]  # the old folder is gone


@pytest.mark.parametrize(
    "damage, reason",
    [
        ({"card_files": {bundle.MODEL_FILE: b"flipped bits"}}, "fails verification"),
        ({"files": {bundle.MODEL_FILE: b"verified, but no onnx graph"}}, "cannot load"),
        ({"files": {bundle.PREPROCESS_FILE: b'{"format": 99}'}}, "format"),
    ],
)
def test_a_bad_bundle_is_refused_and_the_last_good_model_keeps_serving(
    served, make_store, clock, capsys, caplog, damage, reason
):
    store = make_store(refresh_seconds=0)
    store.current()

    bad = served.publish_variant(served.version, **damage)
    clock.now += 1

    assert store.current().version == served.version
    (refusal,) = refusals(caplog)
    assert refusal.model_version == bad and reason in refusal.error
    assert [m["ModelVersion"] for m in emitted_metrics(capsys.readouterr().out) if "RefusedBundles" in m] == [bad]


def test_a_refused_pointer_is_not_downloaded_again_until_it_changes(served, make_store, clock, caplog):
    store = make_store(refresh_seconds=0)
    store.current()
    served.publish_variant(served.version, card_files={bundle.MODEL_FILE: b"corrupt"})
    clock.now += 1
    store.current()

    clock.now += 1
    store.current()

    assert len(refusals(caplog)) == 1
    fixed = served.publish_variant(served.version)
    clock.now += 1
    assert store.current().version == fixed


def test_a_card_that_does_not_match_the_pointer_is_refused(served, make_store):
    pointer = bundle.Pointer(version=served.version, card_sha256="0" * 64, published_at=bundle.utc_now())
    served.put_model_object(bundle.POINTER_FILE, pointer.to_json())

    with pytest.raises(ModelUnavailableError, match="refused"):
        make_store().current()


def test_without_a_published_model_the_store_says_so_and_picks_one_up_soon(cloud, tiny_bundle_root, make_store, clock):
    store = make_store(refresh_seconds=60)

    with pytest.raises(ModelUnavailableError, match="current.json"):
        store.current()

    version = cloud.publish_folder(tiny_bundle_root)
    clock.now += NO_MODEL_RETRY_SECONDS
    assert store.current().version == version


def test_an_unreadable_bucket_leaves_the_loaded_model_serving(served, make_store, clock, monkeypatch):
    store = make_store(refresh_seconds=0)
    store.current()

    def unavailable(self, key):
        raise StorageError("throttled")

    monkeypatch.setattr(Bucket, "get_bytes", unavailable)
    clock.now += 1

    assert store.current().version == served.version


class _DroppedConnection:
    """A response body whose connection drops after the first block, as urllib3 reports it."""

    def __init__(self, body) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        if self._body is None:
            raise ProtocolError("Connection broken: IncompleteRead")
        block, self._body = self._body.read(size), None
        return block


@pytest.fixture
def dropped_model_downloads(served):
    """While on, every download of a model file loses its connection midway (a real client,
    a real moto response; only the body's stream breaks)."""
    state = {"on": True, "downloads": 0}

    def break_body(parsed, model, **kwargs):
        if state["on"] and kwargs["context"].get("model_file"):
            state["downloads"] += 1
            parsed["Body"] = _DroppedConnection(parsed["Body"])

    def mark(params, context, **kwargs):
        context["model_file"] = params["Key"].endswith(bundle.MODEL_FILE)

    events = s3_client().meta.events
    events.register("before-parameter-build.s3.GetObject", mark)
    events.register("after-call.s3.GetObject", break_body)
    yield state
    events.unregister("before-parameter-build.s3.GetObject", mark)
    events.unregister("after-call.s3.GetObject", break_body)


def test_a_download_that_breaks_midway_leaves_the_loaded_model_serving(
    served, make_store, clock, dropped_model_downloads, caplog
):
    store = make_store(refresh_seconds=0)
    dropped_model_downloads["on"] = False
    store.current()
    dropped_model_downloads["on"] = True
    served.publish_variant(served.version)
    clock.now += 1

    assert store.current().version == served.version
    assert dropped_model_downloads["downloads"] == 1
    assert "cannot refresh the model" in [record.getMessage() for record in caplog.records]


def test_failed_refreshes_back_off_instead_of_retrying_on_every_request(
    served, make_store, clock, dropped_model_downloads
):
    store = make_store(refresh_seconds=0)
    dropped_model_downloads["on"] = False
    store.current()
    dropped_model_downloads["on"] = True
    newer = served.publish_variant(served.version)

    # a request every quarter of a second for four minutes; when did the store try the download?
    tries = []
    for _ in range(4 * 240):
        clock.now += 0.25
        before = dropped_model_downloads["downloads"]
        assert store.current().version == served.version
        if dropped_model_downloads["downloads"] > before:
            tries.append(clock.now)
    waits = [later - earlier for earlier, later in zip(tries, tries[1:])]

    assert waits[:6] == [FIRST_BACKOFF_SECONDS * 2**n for n in range(6)]
    assert set(waits[6:]) == {MAX_BACKOFF_SECONDS}

    dropped_model_downloads["on"] = False
    clock.now += MAX_BACKOFF_SECONDS
    assert store.current().version == newer


def test_a_cache_folder_that_cannot_be_written_leaves_the_loaded_model_serving(
    served, make_store, clock, tmp_path, capsys
):
    store = make_store(refresh_seconds=0)
    store.current()
    newer = served.publish_variant(served.version)
    # a file where the new version's folder must go: mkdir fails as on a full or read-only /tmp
    (tmp_path / "cache" / newer).write_bytes(b"")
    clock.now += 1

    assert store.current().version == served.version
    failures = [m for m in emitted_metrics(capsys.readouterr().out) if "FailedModelRefreshes" in m]
    assert [m["ModelVersion"] for m in failures] == [served.version]

    (tmp_path / "cache" / newer).unlink()
    clock.now += MAX_BACKOFF_SECONDS
    assert store.current().version == newer


def test_without_a_model_a_failing_refresh_answers_unavailable_not_an_error(
    served, make_store, dropped_model_downloads
):
    with pytest.raises(ModelUnavailableError, match="ProtocolError"):
        make_store().current()


def test_outside_lambda_no_preload_starts(cloud, monkeypatch):
    monkeypatch.delenv(dependencies.LAMBDA_INIT_VARIABLE, raising=False)

    assert dependencies.preload_model_during_init() is None


def test_in_lambda_the_model_is_loaded_during_init_before_any_request(served, monkeypatch, lambda_context):
    monkeypatch.setenv(dependencies.LAMBDA_INIT_VARIABLE, "on-demand")

    dependencies.preload_model_during_init().join(timeout=60)
    # the bundle is gone from S3: only a model loaded during init can answer
    for key in [f"{served.version}/{name}" for name in (bundle.MODEL_FILE, bundle.PREPROCESS_FILE, bundle.CARD_FILE)]:
        served.s3.delete_object(Bucket=served.model_bucket, Key=served.model_prefix + key)
    response = api.lambda_handler(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)

    assert response["statusCode"] == 200
    assert response_json(response)["model_version"] == served.version


def test_a_failed_load_during_init_is_tried_again_by_the_first_request(
    cloud, tiny_bundle_root, monkeypatch, lambda_context, caplog
):
    monkeypatch.setenv(dependencies.LAMBDA_INIT_VARIABLE, "on-demand")
    dependencies.preload_model_during_init().join(timeout=60)  # nothing is published yet
    assert "could not load the model during init" in [record.getMessage() for record in caplog.records]

    version = cloud.publish_folder(tiny_bundle_root)
    response = api.lambda_handler(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)

    assert response["statusCode"] == 200  # at once, not after the store's retry interval
    assert response_json(response)["model_version"] == version


def test_preloads_started_by_several_handler_modules_load_the_model_once(served, monkeypatch, lambda_context, caplog):
    monkeypatch.setenv(dependencies.LAMBDA_INIT_VARIABLE, "on-demand")

    threads = [dependencies.preload_model_during_init() for _ in range(3)]  # api, jobs, uploads
    for thread in threads:
        thread.join(timeout=60)
    response = api.lambda_handler(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)

    assert response["statusCode"] == 200
    assert [record.getMessage() for record in caplog.records].count("serving a model") == 1


def test_a_misconfigured_function_starts_no_preload_and_answers_why(cloud, monkeypatch, lambda_context, caplog):
    monkeypatch.setenv(dependencies.LAMBDA_INIT_VARIABLE, "on-demand")
    monkeypatch.delenv("MODEL_BUCKET")
    dependencies.reset()

    assert dependencies.preload_model_during_init() is None
    assert "could not load the model during init" in [record.getMessage() for record in caplog.records]
    response = api.lambda_handler(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)
    assert response["statusCode"] == 500 and response_json(response)["error"] == "misconfigured"
