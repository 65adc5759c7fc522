"""functions.api with real-shaped API Gateway REST proxy events, against moto."""

import json

import pytest
from serving_harness import api_event, response_json

from functions import api, dependencies
from functions.contract import MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY, MAX_TEXTS_PER_JOB
from model_build import bundle

pytestmark = pytest.mark.functional

PREDICTION_FIELDS = {"label", "score", "probabilities", "language", "abstained"}
# zero-width spaces: a text of two characters (the request limits allow it) with no token in it
NOTHING_TO_LEARN_FROM = "\u200b\u200b"


def call(event, context):
    response = api.lambda_handler(event, context)
    return response["statusCode"], response_json(response)


def test_classifies_texts_in_input_order(served, lambda_context):
    texts = ["awful boring mess", "wonderful superb film", "dull waste"]
    status, body = call(api_event("POST", "/classify", {"texts": texts}), lambda_context)

    assert status == 200
    assert body["model_version"] == served.version
    assert [p["label"] for p in body["predictions"]] == ["negative", "positive", "negative"]
    for prediction in body["predictions"]:
        assert set(prediction) == PREDICTION_FIELDS
        assert set(prediction["probabilities"]) == {"negative", "positive"}
        assert prediction["score"] == prediction["probabilities"][prediction["label"]]
        assert prediction["abstained"] is None and isinstance(prediction["language"], str)


def test_explain_true_gives_every_prediction_an_explanation(served, lambda_context):
    texts = ["wonderful superb film", NOTHING_TO_LEARN_FROM]

    status, body = call(api_event("POST", "/classify", {"texts": texts, "explain": True}), lambda_context)

    assert status == 200
    for prediction in body["predictions"]:
        assert set(prediction) == PREDICTION_FIELDS | {"explanation"}
        assert isinstance(prediction["explanation"], list)
        for term in prediction["explanation"]:
            assert isinstance(term["text"], str) and isinstance(term["weight"], float)


@pytest.mark.parametrize("request_body", [{"text": "a fine film"}, {"text": "a fine film", "explain": False}])
def test_without_explain_true_no_prediction_has_an_explanation(served, lambda_context, request_body):
    status, body = call(api_event("POST", "/classify", request_body), lambda_context)

    assert status == 200
    assert set(body["predictions"][0]) == PREDICTION_FIELDS


def test_a_text_with_nothing_to_learn_from_is_abstained_on_not_guessed(served, lambda_context):
    texts = [NOTHING_TO_LEARN_FROM, "wonderful superb film", "   "]

    status, body = call(api_event("POST", "/classify", {"texts": texts}), lambda_context)

    assert status == 200
    first, answered, blank = body["predictions"]
    for abstained in (first, blank):
        assert (abstained["label"], abstained["score"], abstained["probabilities"]) == (None, None, None)
        assert abstained["abstained"]["reason"] == "no_evidence" and abstained["abstained"]["message"]
        assert isinstance(abstained["language"], str)
    assert answered["label"] == "positive" and answered["abstained"] is None


def test_a_single_text_gets_one_prediction(served, lambda_context):
    status, body = call(api_event("POST", "/classify", {"text": "loved it, brilliant"}), lambda_context)

    assert status == 200 and len(body["predictions"]) == 1 and body["predictions"][0]["label"] == "positive"


TOO_MANY = [f"text {i}" for i in range(MAX_TEXTS_PER_CLASSIFY + 1)]
FORM, MULTIPART, UNSUPPORTED = "application/x-www-form-urlencoded", "multipart/form-data", "unsupported_content_type"
# JSON that Python's parser gives up on: nested deeper than its stack, an integer of 5,000 digits
DEEP = 5000
UNPARSABLE_BODIES = {
    "nested arrays": "[" * DEEP + "]" * DEEP,
    "nested arrays in texts": '{"texts": ' + "[" * DEEP + "]" * DEEP + "}",
    "nested objects in text": '{"text": ' + '{"a": ' * DEEP + "1" + "}" * (DEEP + 1),
    "huge integer": '{"text": ' + "7" * DEEP + "}",
}


@pytest.mark.parametrize(
    "event, status, error",
    [
        (api_event("POST", "/classify", raw_body='{"texts": ["unclosed"'), 422, "invalid_request"),
        (api_event("POST", "/classify", {"texts": [1, 2]}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"texts": "not a list"}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"texts": []}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"texts": [""]}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"texts": TOO_MANY}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "x" * (MAX_TEXT_CHARS + 1)}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "texts": ["b"]}), 422, "invalid_request"),
        (api_event("POST", "/classify", {}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "texts": None}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": None, "texts": ["a"]}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "lang": "en"}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "explain": "yes"}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "explain": 1}), 422, "invalid_request"),
        (api_event("POST", "/classify", {"text": "a", "explain": None}), 422, "invalid_request"),
        (api_event("POST", "/jobs", {"texts": ["a"], "explain": True}), 422, "invalid_request"),
        (api_event("POST", "/classify", ["a list"]), 422, "invalid_request"),
        (api_event("POST", "/classify"), 422, "invalid_request"),
        (api_event("POST", "/classify", raw_body="text=hello", headers={"Content-Type": FORM}), 415, UNSUPPORTED),
        (api_event("POST", "/classify", raw_body="hello", headers={"Content-Type": "text/plain"}), 415, UNSUPPORTED),
        # a multipart type without the boundary that would let it be parsed
        (api_event("POST", "/classify", {"text": "a"}, headers={"Content-Type": MULTIPART}), 415, UNSUPPORTED),
        (api_event("POST", "/classify", raw_body=json.dumps({"text": "x" * MAX_BODY_BYTES})), 413, "body_too_large"),
        (api_event("POST", "/classify", base64_body=b'{"text": "\xff\xfe"}'), 400, "undecodable_body"),
        (api_event("POST", "/jobs", {"texts": ["t"] * (MAX_TEXTS_PER_JOB + 1)}), 422, "invalid_request"),
        # the path as API Gateway passes it, still percent-encoded: 40 characters, 120 encoded
        (api_event("GET", "/jobs/" + "%C3%A9" * 40), 404, "job_not_found"),
        (api_event("GET", "/nowhere"), 404, "not_found"),
        (api_event("DELETE", "/classify"), 405, "method_not_allowed"),
        (api_event("POST", "/health"), 405, "method_not_allowed"),
    ],
    ids=lambda value: value if isinstance(value, (int, str)) else None,
)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(served, lambda_context, event, status, error):
    got_status, body = call(event, lambda_context)

    assert (got_status, body["error"]) == (status, error)
    assert body["message"]
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("route", ["/classify", "/jobs"])
@pytest.mark.parametrize("body", UNPARSABLE_BODIES.values(), ids=UNPARSABLE_BODIES.keys())
def test_a_body_python_cannot_parse_gets_the_422_of_malformed_json(served, lambda_context, route, body):
    status, answer = call(api_event("POST", route, raw_body=body), lambda_context)

    assert (status, answer["error"]) == (422, "invalid_request")
    assert answer["details"][0]["location"][0] == "body"


def test_validation_errors_point_at_the_field_without_echoing_it(served, lambda_context):
    text = "echo-me " * 3000
    status, body = call(api_event("POST", "/classify", {"texts": ["fine", text]}), lambda_context)

    assert status == 422
    assert body["details"][0]["location"] == ["body", "texts", 1]
    assert "echo-me" not in json.dumps(body)


def test_explain_must_be_a_boolean_and_the_422_says_so(served, lambda_context):
    status, body = call(api_event("POST", "/classify", {"text": "a fine film", "explain": "yes"}), lambda_context)

    assert (status, body["error"]) == (422, "invalid_request")
    assert [detail["location"] for detail in body["details"]] == [["body", "explain"]]


def test_a_wrong_method_names_the_allowed_one(served, lambda_context):
    response = api.lambda_handler(api_event("GET", "/classify"), lambda_context)

    assert response["statusCode"] == 405
    assert response["multiValueHeaders"].get("Allow") == ["POST"] or response.get("headers", {}).get("Allow") == "POST"


def test_health_and_model_describe_the_served_bundle(served, lambda_context):
    assert call(api_event("GET", "/health"), lambda_context) == (200, {"status": "ok", "model_version": served.version})

    status, card = call(api_event("GET", "/model"), lambda_context)
    assert status == 200
    assert card == json.loads(served.get_model_object(f"{served.version}/{bundle.CARD_FILE}"))


def test_the_openapi_document_describes_every_route(served, lambda_context):
    status, document = call(api_event("GET", "/openapi.json"), lambda_context)

    assert status == 200
    assert {"/classify", "/jobs", "/jobs/{job_id}", "/model", "/health"} <= set(document["paths"])
    assert "ClassifyRequest" in document["components"]["schemas"]
    assert "503" in document["paths"]["/classify"]["post"]["responses"]


@pytest.mark.parametrize("route", ["/health", "/classify", "/model"])
def test_without_a_model_the_api_answers_503_and_says_why(cloud, lambda_context, route):
    event = api_event("POST", route, {"text": "anything"}) if route == "/classify" else api_event("GET", route)

    status, body = call(event, lambda_context)

    assert status == 503
    assert body["error"] == "model_unavailable"
    assert "current.json" in body["message"]


def test_a_new_version_is_served_without_a_cold_start(served, lambda_context, monkeypatch):
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    dependencies.reset()
    _, before = call(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)
    store = dependencies.model_store()
    fp32 = served.get_model_object(f"{served.version}/{bundle.FP32_MODEL_FILE}")

    newer = served.publish_variant(served.version, files={bundle.MODEL_FILE: fp32})
    _, after = call(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)

    assert (before["model_version"], after["model_version"]) == (served.version, newer)
    assert after["predictions"] != before["predictions"]  # the fp32 graph answers, not the int8 one
    assert dependencies.model_store() is store
    assert call(api_event("GET", "/model"), lambda_context)[1]["version"] == newer


def test_a_corrupt_new_version_is_refused_while_the_old_one_keeps_answering(served, lambda_context, monkeypatch):
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    dependencies.reset()
    call(api_event("GET", "/health"), lambda_context)

    served.publish_variant(served.version, card_files={bundle.MODEL_FILE: b"\x00" * 64})
    status, body = call(api_event("POST", "/classify", {"text": "a fine film"}), lambda_context)

    assert status == 200 and body["model_version"] == served.version


def test_predictions_are_counted_per_model_version(served, lambda_context, capsys):
    call(api_event("POST", "/classify", {"texts": ["good", "bad"]}), lambda_context)

    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    counted = [m for m in metrics if "Predictions" in m]
    assert counted and counted[0]["Predictions"] == [2.0] and counted[0]["ModelVersion"] == served.version
