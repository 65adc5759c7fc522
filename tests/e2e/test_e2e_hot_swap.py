"""A newly published bundle, a canary, a promotion and a rollback are served without a restart
while requests keep coming."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from cloud_user import API_KEY

from functions import contract
from infra import settings
from infra.local import resources
from infra.local.process import poll_until
from model_build import bundle, registry
from model_build.storage import open_location

pytestmark = pytest.mark.e2e

# below the client's usage-plan rate, so the flow is never throttled
REQUESTS_PER_SECOND = settings.CLIENT_THROTTLE.rate_per_second // 2
RUN = 20


def _client(local_cloud, answers: list[tuple[int, str | None]], stop: threading.Event):
    """A client that classifies at a steady pace until ``stop``, noting each answer's status and version."""

    def run() -> None:
        with requests.Session() as session:
            session.headers["x-api-key"] = API_KEY
            while not stop.is_set():
                response = session.post(f"{local_cloud.api_url}/classify", json={"text": "a moving film"}, timeout=30)
                answers.append((response.status_code, response.json().get("model_version")))
                time.sleep(1 / REQUESTS_PER_SECOND)  # pacing, not waiting for a condition

    return run


def _publish_copy(local_cloud, models_root, from_version: str) -> str:
    """Publishes the files of ``from_version`` as a new version and promotes it."""
    card = json.loads((models_root / from_version / bundle.CARD_FILE).read_text())
    card["version"] = bundle.new_version(card["architecture"])
    location = open_location(f"s3://{resources.MODEL_BUCKET}/{contract.MODEL_PREFIX}", s3_client=local_cloud.s3)
    bundle.publish(location, models_root / from_version, card, promote=True)
    return card["version"]


def test_newly_published_bundle_is_served_while_requests_flow(local_cloud, tiny_bundle_root):
    old_version = local_cloud.api("GET", "/model").json()["version"]
    tiny_version = bundle.read_pointer(open_location(str(tiny_bundle_root))).version
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()
    client = _client(local_cloud, answers, stop)

    flow = threading.Thread(target=client)
    flow.start()
    try:
        poll_until(lambda: answers, timeout=30, what="the first answer")
        new_version = _publish_copy(local_cloud, tiny_bundle_root, tiny_version)
        poll_until(lambda: answers[-1][1] == new_version, timeout=30, what="the new version to be served")
    finally:
        stop.set()
        flow.join()

    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers} == {old_version, new_version}


def test_promote_canary_and_rollback_take_effect_while_requests_flow(local_cloud, tiny_bundle_root, monkeypatch):
    """The registry's commands, run against the local cloud's S3 as against AWS, change what the
    warm API serves within MODEL_REFRESH_SECONDS; no request fails meanwhile."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_cloud.aws_endpoint)
    store = f"s3://{resources.MODEL_BUCKET}/{contract.MODEL_PREFIX}"
    location = open_location(store, s3_client=local_cloud.s3)
    served = bundle.read_pointer(location).version
    tiny_version = bundle.read_pointer(open_location(str(tiny_bundle_root))).version
    card = json.loads((tiny_bundle_root / tiny_version / bundle.CARD_FILE).read_text())
    card["version"] = candidate = bundle.new_version(card["architecture"])
    bundle.publish(location, tiny_bundle_root / tiny_version, card, promote=False)
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()
    client = _client(local_cloud, answers, stop)

    def answered_since(start: int) -> set[str | None]:
        return {version for _, version in answers[start:]}

    flow = threading.Thread(target=client)
    flow.start()
    try:
        poll_until(lambda: answers, timeout=30, what="the first answer")
        assert registry.main(["promote", candidate, "--canary", "0.5", "--store", store]) == 0
        mark = len(answers)
        poll_until(lambda: answered_since(mark) >= {served, candidate}, timeout=60, what="both versions answering")

        assert registry.main(["rollback", "--store", store]) == 0  # drops the canary
        # twenty answers in a row from one version: by chance, with the canary, about once in a million
        poll_until(lambda: {v for _, v in answers[-RUN:]} == {served}, timeout=60, what="the canary to be dropped")
        mark = len(answers)
        poll_until(lambda: len(answers) >= mark + RUN, timeout=60, what="answers after the rollback")
        assert answered_since(mark) == {served}  # the canary answers no more

        assert registry.main(["promote", candidate, "--store", store]) == 0
        poll_until(lambda: answers[-1][1] == candidate, timeout=30, what="the promoted version to be served")
        assert registry.main(["rollback", "--store", store]) == 0  # back to the version served before
        poll_until(lambda: answers[-1][1] == served, timeout=30, what="the rollback to the previous version")
    finally:
        stop.set()
        flow.join()

    assert {status for status, _ in answers} == {200}
    assert bundle.read_pointer(location).version == served
