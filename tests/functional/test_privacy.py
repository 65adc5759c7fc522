"""Raw input text never reaches the logs or the events: a marker sent through every route, the
jobs consumer and every upload format (in good lines and in bad ones) must not appear in anything
logged or put on the event bus."""

import json

import pytest
from serving_harness import api_event

from functions import api, jobs, uploads
from functions.contract import JOB_FINISHED, MAX_TEXT_CHARS, UPLOAD_FINISHED

pytestmark = pytest.mark.functional

MARKER = "zq-private-marker-7f3a"


def test_no_route_or_consumer_logs_the_text_it_was_given(served, lambda_context, caplog, capsys):
    caplog.set_level("DEBUG")
    text = f"a wonderful film {MARKER}"
    requests = [
        api_event("POST", "/classify", {"text": text}),
        api_event("POST", "/classify", {"texts": [text, text]}),
        api_event("POST", "/classify", {"text": text + "x" * MAX_TEXT_CHARS}),
        api_event("POST", "/classify", {"texts": [text], "extra": text}),
        api_event("POST", "/classify", raw_body='{"text": "' + text),
        api_event("POST", "/classify", raw_body=text, headers={"Content-Type": "text/plain"}),
        api_event("POST", "/jobs", {"texts": [text] * 3}),
        api_event("GET", f"/jobs/{MARKER}"),
        api_event("POST", f"/{MARKER}", {"text": text}),
        # an explanation quotes words of the text back, in the answer only
        api_event("POST", "/classify", {"texts": [text, MARKER], "explain": True}),
    ]
    statuses = [api.lambda_handler(event, lambda_context)["statusCode"] for event in requests]
    served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)
    for key, data in {
        "uploads/p.jsonl": "\n".join([json.dumps({"id": 1, "text": text}), "{" + text, json.dumps({"title": text})]),
        "uploads/p.csv": f'id,text\n1,"{text}, quoted"\n2,{text}\n',
        "uploads/p.txt": f"{text}\n{text * 2000}\n",
    }.items():
        served.put_data(key, data.encode())
    served.drain(served.uploads_queue_url, uploads.lambda_handler, lambda_context)

    assert statuses[0] == statuses[-1] == 200 and statuses[6] == 202  # the requests did run
    assert any(r.getMessage() == "job done" for r in caplog.records)
    assert sum(r.getMessage() == "upload classified" for r in caplog.records) == 3
    for record in caplog.records:
        assert MARKER not in json.dumps(record.__dict__, default=str), record.getMessage()
    printed = capsys.readouterr()
    assert MARKER not in printed.out and MARKER not in printed.err
    events = served.finished_events(JOB_FINISHED) + served.finished_events(UPLOAD_FINISHED)
    assert len(events) == 4  # the job and the three files
    assert MARKER not in json.dumps(events)
