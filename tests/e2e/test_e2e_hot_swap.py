"""A newly published bundle is served without a restart while requests keep coming."""

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
from model_build import bundle
from model_build.storage import open_location

pytestmark = pytest.mark.e2e

# below the client's usage-plan rate, so the flow is never throttled
REQUESTS_PER_SECOND = settings.CLIENT_THROTTLE.rate_per_second // 2


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

    def client() -> None:
        with requests.Session() as session:
            session.headers["x-api-key"] = API_KEY
            while not stop.is_set():
                response = session.post(f"{local_cloud.api_url}/classify", json={"text": "a moving film"}, timeout=30)
                answers.append((response.status_code, response.json().get("model_version")))
                time.sleep(1 / REQUESTS_PER_SECOND)  # pacing, not waiting for a condition

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
