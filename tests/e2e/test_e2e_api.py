"""The HTTP API as a client sees it through the local gateway: answers, API keys, throttling."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cloud_user import SECOND_API_KEY

from functions import contract
from infra.local.process import poll_until

pytestmark = pytest.mark.e2e


def test_classify_answers_one_prediction_per_text_in_order(local_cloud):
    texts = ["great wonderful superb film", "awful boring terrible mess", "brilliant moving masterpiece"]

    response = local_cloud.api("POST", "/classify", json={"texts": texts})

    assert response.status_code == 200, response.text
    labels = [prediction["label"] for prediction in response.json()["predictions"]]
    assert labels == ["positive", "negative", "positive"]


def test_classify_explains_when_asked_and_abstains_on_a_text_with_nothing_to_learn_from(local_cloud):
    texts = ["great wonderful superb film", "\u200b\u200b"]

    response = local_cloud.api("POST", "/classify", json={"texts": texts, "explain": True})

    assert response.status_code == 200, response.text
    answered, abstained = response.json()["predictions"]
    assert answered["label"] == "positive" and answered["abstained"] is None
    assert (abstained["label"], abstained["score"], abstained["probabilities"]) == (None, None, None)
    assert abstained["abstained"]["reason"] == "no_evidence"
    assert all(isinstance(prediction["explanation"], list) for prediction in (answered, abstained))


def test_classify_explains_nothing_unless_asked(local_cloud):
    response = local_cloud.api("POST", "/classify", json={"text": "great wonderful superb film"})

    assert response.status_code == 200, response.text
    assert "explanation" not in response.json()["predictions"][0]


def test_explain_that_is_not_a_boolean_is_refused(local_cloud):
    response = local_cloud.api("POST", "/classify", json={"text": "great", "explain": "yes"})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_classify_serves_the_version_the_model_card_names(local_cloud):
    card = local_cloud.api("GET", "/model").json()

    response = local_cloud.api("POST", "/classify", json={"text": "a delightful story"})

    assert response.json()["model_version"] == card["version"]


def test_request_without_api_key_is_forbidden_by_the_gateway(local_cloud):
    response = requests.post(f"{local_cloud.api_url}/classify", json={"text": "great"}, timeout=30)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_api_key"


def test_request_with_an_unknown_api_key_is_forbidden(local_cloud):
    response = local_cloud.api("GET", "/health", headers={"x-api-key": "not-a-key-of-this-usage-plan"})

    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"


@pytest.mark.parametrize("method", ["DELETE", "TRACE", "PROPFIND", "get"])
def test_a_method_no_route_declares_gets_the_json_answer_of_a_missing_route(local_cloud, method):
    response = local_cloud.api(method, "/classify")

    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "no_such_route"
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_invalid_body_reaches_the_function_and_gets_its_4xx(local_cloud):
    too_many = ["fine"] * (contract.MAX_TEXTS_PER_CLASSIFY + 1)

    response = local_cloud.api("POST", "/classify", json={"texts": too_many})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def _until_throttled(local_cloud, api_key: str, rounds: int = 20, per_round: int = 60) -> list[requests.Response]:
    """Rounds of concurrent requests with one key until one of them is throttled."""
    with requests.Session() as client, ThreadPoolExecutor(max_workers=8) as pool:
        client.headers["x-api-key"] = api_key
        for _ in range(rounds):
            responses = list(
                pool.map(lambda _: client.get(f"{local_cloud.api_url}/health", timeout=30), range(per_round))
            )
            if any(response.status_code == 429 for response in responses):
                return responses
    raise AssertionError(f"{rounds * per_round} requests and none was throttled")


def test_client_past_its_rate_and_burst_gets_429(local_cloud):
    responses = _until_throttled(local_cloud, SECOND_API_KEY)

    throttled = [response for response in responses if response.status_code == 429]
    assert throttled[0].json() == {"error": "throttled", "message": "too many requests: slow down and retry"}
    assert {response.status_code for response in responses} <= {200, 429}


def test_throttled_client_is_served_again_once_its_bucket_refills(local_cloud):
    _until_throttled(local_cloud, SECOND_API_KEY)
    with requests.Session() as client:
        client.headers["x-api-key"] = SECOND_API_KEY

        poll_until(
            lambda: client.get(f"{local_cloud.api_url}/health", timeout=30).status_code == 200,
            timeout=10,
            what="a refill",
        )


def test_throttling_one_key_leaves_the_others_served(local_cloud):
    _until_throttled(local_cloud, SECOND_API_KEY)

    assert local_cloud.api("GET", "/health").status_code == 200
