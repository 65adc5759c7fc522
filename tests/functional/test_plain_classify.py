"""A plainly valid POST /classify is answered without the Powertools app, exactly as the app
answers it; every other request is left to the app (functions/plain_classify.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from serving_harness import api_event

from functions import api, api_routes, plain_classify
from functions.contract import MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS_PER_CLASSIFY
from functions.sentiment_model import SentimentModel

pytestmark = pytest.mark.functional

REPO_ROOT = Path(__file__).resolve().parents[2]

PLAIN_EVENTS = {
    "one text": api_event("POST", "/classify", {"text": "a wonderful superb film"}),
    "texts, explained": api_event(
        "POST",
        "/classify",
        {"texts": ["awful boring mess", "\u200b\u200b", "Der Film war schrecklich."], "explain": True},
    ),
    "explain false": api_event(
        "POST", "/classify", {"explain": False, "text": 'a "fine" film \u00e9t\u00e9 \U0001f600'}
    ),
    "the most texts, the longest": api_event(
        "POST", "/classify", {"texts": ["dull " * (MAX_TEXT_CHARS // 5)] * MAX_TEXTS_PER_CLASSIFY}
    ),
    "no content type": api_event("POST", "/classify", {"text": "fine"}, headers={"Content-Type": None}),
    "json with a charset": api_event(
        "POST", "/classify", {"text": "fine"}, headers={"Content-Type": "application/json; charset=utf-8"}
    ),
}

APP_EVENTS = {
    "another route": api_event("POST", "/jobs", {"texts": ["fine"]}),
    "another method": api_event("GET", "/classify"),
    "a form": api_event("POST", "/classify", raw_body="text=fine", headers={"Content-Type": "text/plain"}),
    "JSON spelt in capitals": api_event(
        "POST", "/classify", {"text": "fine"}, headers={"Content-Type": "Application/JSON"}
    ),
    "base64": api_event("POST", "/classify", base64_body=b'{"text": "fine"}'),
    "over the cap": api_event("POST", "/classify", raw_body=json.dumps({"text": "a" * MAX_BODY_BYTES})),
    "unparsable": api_event("POST", "/classify", raw_body='{"text": '),
    "deeply nested": api_event("POST", "/classify", raw_body="[" * 5000 + "]" * 5000),
    "neither field": api_event("POST", "/classify", {}),
    "both fields": api_event("POST", "/classify", {"text": "a", "texts": ["b"]}),
    "a number": api_event("POST", "/classify", {"text": 5}),
    "too many texts": api_event("POST", "/classify", {"texts": ["a"] * (MAX_TEXTS_PER_CLASSIFY + 1)}),
    "explain as a string": api_event("POST", "/classify", {"text": "a", "explain": "true"}),
    "no body": api_event("POST", "/classify"),
}


@pytest.mark.parametrize("name", PLAIN_EVENTS)
def test_a_plainly_valid_classify_gets_the_answer_the_app_gives(served, lambda_context, name):
    event = PLAIN_EVENTS[name]

    plain = plain_classify.answer(event)
    from_app = api_routes.app.resolve(event, lambda_context)

    assert plain is not None and plain["statusCode"] == 200
    assert plain == from_app  # status, headers and the body to the byte


@pytest.mark.parametrize("name", APP_EVENTS)
def test_anything_else_is_left_to_the_app(served, lambda_context, name):
    event = APP_EVENTS[name]

    assert plain_classify.answer(event) is None
    handled, from_app = api.lambda_handler(event, lambda_context), api_routes.app.resolve(event, lambda_context)
    assert handled["statusCode"] == from_app["statusCode"]
    # the same answer (a job's id aside: each POST /jobs queues a new one)
    assert json.loads(handled["body"]).keys() == json.loads(from_app["body"]).keys()
    if handled["statusCode"] >= 400:
        assert handled == from_app


def test_without_a_model_the_app_answers_503_as_for_any_route(cloud, lambda_context):
    event = PLAIN_EVENTS["one text"]

    assert plain_classify.answer(event) is None
    response = api.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"] == "model_unavailable"


def test_a_defect_while_classifying_gets_the_apps_500_on_both_paths(served, lambda_context, monkeypatch):
    def broken(self, texts, explain=False):
        raise RuntimeError("a defect")

    monkeypatch.setattr(SentimentModel, "classify", broken)
    event = PLAIN_EVENTS["one text"]

    plain = plain_classify.answer(event)
    from_app = api_routes.app.resolve(event, lambda_context)

    assert plain["statusCode"] == from_app["statusCode"] == 500
    assert (
        json.loads(plain["body"])
        == json.loads(from_app["body"])
        == {
            "error": "internal_error",
            "message": "the request failed unexpectedly",
        }
    )


def test_importing_the_api_and_checking_a_classify_imports_neither_pydantic_nor_the_event_handler():
    event = json.dumps(PLAIN_EVENTS["texts, explained"])
    script = (
        "import json, sys\n"
        "from functions import api, plain_classify\n"
        "request = plain_classify.plain_request(json.loads(sys.stdin.read()))\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')\n"
        "         or m.startswith('aws_lambda_powertools.event_handler') or m == 'functions.api_routes']\n"
        "print(json.dumps({'texts': len(request.texts), 'explain': request.explain, 'heavy': heavy}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], input=event, cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"texts": 3, "explain": True, "heavy": []}
