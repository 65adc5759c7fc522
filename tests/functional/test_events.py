"""EventBridge events when a job or an upload finishes: moto's default bus delivers them through the
local cloud's rule to its events queue (`infra.local.event_log`), where the tests read them."""

import json
import socket

import pytest
from botocore.stub import Stubber
from serving_harness import api_event, response_json

from functions import api, clients, contract, dependencies, jobs, uploads
from functions.events import EVENTS_NOT_PUT
from functions.object_store import Bucket, StorageError
from infra.settings import JOBS_QUEUE

pytestmark = pytest.mark.functional

MARKER = "zq-private-marker-7f3a"  # in every text and input id: it must never reach an event


def submit(texts, context) -> str:
    response = api.lambda_handler(api_event("POST", "/jobs", {"texts": texts}), context)
    assert response["statusCode"] == 202
    return response_json(response)["job_id"]


def job_events(cloud, job_id):
    return cloud.finished_events(contract.JOB_FINISHED, job_id=job_id)


def upload_events(cloud, key):
    return cloud.finished_events(contract.UPLOAD_FINISHED, upload_key=key)


def emitted_metrics(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def events_not_put(out: str) -> float:
    return sum(sum(metric.get(EVENTS_NOT_PUT, [])) for metric in emitted_metrics(out))


def upload(cloud, key: str, data: bytes, context) -> list[dict]:
    cloud.put_data(key, data)
    return cloud.drain(cloud.uploads_queue_url, uploads.lambda_handler, context)


def jsonl(texts) -> bytes:
    return "".join(json.dumps({"id": f"{MARKER}-{i}", "text": text}) + "\n" for i, text in enumerate(texts)).encode()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- jobs --------------------------------------------------------------------------------------


def test_a_done_job_puts_one_event_with_its_ids_counts_and_result_key_and_no_text(served, lambda_context):
    job_id = submit([f"wonderful superb film {MARKER}", "\u200b\u200b", "awful boring mess"], lambda_context)

    served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    (event,) = job_events(served, job_id)
    assert (event["source"], event["detail-type"]) == ("sentiment", "Job Finished")
    assert event["detail"] == {
        "job_id": job_id,
        "status": "done",
        "model_version": served.version,
        "counts": {"texts": 3, "answered": 2, "abstained": 1},
        "bucket": served.data_bucket,
        "result_key": f"jobs/{job_id}/result.json",
        "error": None,
    }
    assert served.get_data(event["detail"]["result_key"]) is not None
    assert MARKER not in json.dumps(event)


def test_a_job_that_cannot_succeed_puts_one_failed_event_with_its_reason(served, lambda_context):
    job_id = "0123456789abcdef0123456789abcdef"  # no request stored under it
    served.sqs.send_message(QueueUrl=served.jobs_queue_url, MessageBody=json.dumps({"job_id": job_id}))

    served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    (event,) = job_events(served, job_id)
    detail = event["detail"]
    assert (detail["status"], detail["model_version"], detail["counts"]["texts"]) == ("failed", None, 0)
    assert "does not exist" in detail["error"]
    assert detail["result_key"] == f"jobs/{job_id}/result.json"


def test_a_job_failed_on_its_last_delivery_puts_its_failed_event_once(served, lambda_context, monkeypatch):
    job_id = submit([f"good {MARKER}"], lambda_context)
    (message,) = served.receive(served.jobs_queue_url)
    original = Bucket.get_bytes

    def request_unreadable(self, key):
        if key == f"jobs/{job_id}/request.json":
            raise StorageError("InvalidObjectState")
        return original(self, key)

    monkeypatch.setattr(Bucket, "get_bytes", request_unreadable)
    for attempt in range(1, JOBS_QUEUE.max_receive_count + 1):
        message["Attributes"]["ApproximateReceiveCount"] = str(attempt)
        jobs.lambda_handler(served.sqs_event(served.jobs_queue_url, [message]), lambda_context)
        assert len(job_events(served, job_id)) == (attempt == JOBS_QUEUE.max_receive_count)

    (event,) = job_events(served, job_id)
    assert event["detail"]["status"] == "failed" and "retries are exhausted" in event["detail"]["error"]


def test_a_redelivered_job_puts_no_second_event(served, lambda_context):
    job_id = submit(["good"], lambda_context)
    (message,) = served.receive(served.jobs_queue_url)
    event = served.sqs_event(served.jobs_queue_url, [message])

    jobs.lambda_handler(event, lambda_context)
    jobs.lambda_handler(event, lambda_context)

    assert [e["detail"]["status"] for e in job_events(served, job_id)] == ["done"]


# -- uploads -----------------------------------------------------------------------------------


def test_a_done_upload_puts_one_event_with_its_counts_and_keys_and_no_text_or_input_ids(served, lambda_context):
    data = jsonl([f"wonderful superb film {MARKER}", "\u200b\u200b", "awful boring mess"]) + b"{broken\n"

    upload(served, "uploads/team/reviews.jsonl", data, lambda_context)

    (event,) = upload_events(served, "uploads/team/reviews.jsonl")
    detail = event["detail"]
    assert (event["source"], event["detail-type"]) == ("sentiment", "Upload Finished")
    assert {k: v for k, v in detail.items() if k != "run"} == {
        "upload_key": "uploads/team/reviews.jsonl",
        "name": "team/reviews.jsonl",
        "status": "done",
        "model_version": served.version,
        "counts": {"lines": 4, "classified": 3, "answered": 2, "abstained": 1, "errors": 1},
        "chunks": 1,
        "bucket": served.data_bucket,
        "result_key": "results/team/reviews.jsonl.summary.json",
        "predictions_key": "results/team/reviews.jsonl.predictions.jsonl",
        "error": None,
    }
    assert detail["run"]
    assert served.get_data(detail["result_key"]) is not None and served.get_data(detail["predictions_key"])
    assert MARKER not in json.dumps(event)


def test_a_redelivered_upload_message_puts_no_second_event(served, lambda_context):
    served.put_data("uploads/twice.txt", b"loved it\n")
    (message,) = [m for m in served.receive(served.uploads_queue_url) if "s3:TestEvent" not in m["Body"]]
    event = served.sqs_event(served.uploads_queue_url, [message])

    uploads.lambda_handler(event, lambda_context)
    uploads.lambda_handler(event, lambda_context)  # e.g. the batch timed out after this record

    assert len(upload_events(served, "uploads/twice.txt")) == 1


def test_a_new_upload_of_the_same_name_puts_an_event_of_its_own(served, lambda_context):
    upload(served, "uploads/again.txt", b"loved it\n", lambda_context)
    upload(served, "uploads/again.txt", b"loved it\nhated it\n", lambda_context)

    events = upload_events(served, "uploads/again.txt")
    assert [e["detail"]["counts"]["lines"] for e in events] == [1, 2]
    assert len({e["detail"]["run"] for e in events}) == 2


def test_a_chunked_upload_puts_one_event_when_joined_not_one_per_chunk(served, lambda_context, monkeypatch):
    monkeypatch.setenv("UPLOAD_CHUNK_BYTES", "4096")
    dependencies.reset()
    chunk_records = []
    handler = uploads.lambda_handler

    def recording(event, context):
        chunk_records.extend(r for r in event["Records"] if "upload_chunk" in r["body"])
        return handler(event, context)

    monkeypatch.setattr(uploads, "lambda_handler", recording)

    upload(
        served, "uploads/big.jsonl", jsonl([f"wonderful film number {i} {MARKER}" for i in range(300)]), lambda_context
    )

    summary = json.loads(served.get_data("results/big.jsonl.summary.json"))
    (event,) = upload_events(served, "uploads/big.jsonl")
    assert summary["chunks"] > 5 and len(chunk_records) == summary["chunks"]
    assert (event["detail"]["chunks"], event["detail"]["counts"]["lines"]) == (summary["chunks"], 300)
    assert MARKER not in json.dumps(event)
    # the chunk messages delivered again after the join put nothing more
    assert uploads.lambda_handler({"Records": list(chunk_records)}, lambda_context) == {"batchItemFailures": []}
    assert len(upload_events(served, "uploads/big.jsonl")) == 1


@pytest.mark.parametrize(
    "key, data, reason",
    [
        ("uploads/slides.pdf", b"%PDF-1.7", "unsupported file type"),
        ("uploads/wrong.csv", f"id,review\n1,{MARKER}\n".encode(), "'text' column"),
    ],
)
def test_a_failed_upload_puts_one_failed_event_with_its_reason(served, lambda_context, key, data, reason):
    upload(served, key, data, lambda_context)

    (event,) = upload_events(served, key)
    detail = event["detail"]
    assert (detail["status"], detail["predictions_key"], detail["counts"]["lines"]) == ("failed", None, 0)
    assert reason in detail["error"]
    assert detail["result_key"] == f"results/{key.removeprefix('uploads/')}.summary.json"
    assert MARKER not in json.dumps(event)


# -- when EventBridge fails --------------------------------------------------------------------


def test_an_unreachable_event_bus_fails_no_job_and_is_logged_and_counted(
    served, lambda_context, monkeypatch, caplog, capsys
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", f"http://127.0.0.1:{closed_port()}")
    dependencies.reset()
    job_id = submit([f"wonderful superb film {MARKER}"], lambda_context)

    responses = served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    assert responses == [{"batchItemFailures": []}]
    assert json.loads(served.get_data(f"jobs/{job_id}/result.json"))["status"] == "done"
    assert job_events(served, job_id) == []  # the event never reached moto
    (warning,) = [r for r in caplog.records if r.getMessage() == "event not put"]
    assert warning.job_id == job_id and "EndpointConnectionError" in warning.reason
    printed = capsys.readouterr().out
    assert events_not_put(printed) == 1
    assert MARKER not in printed and MARKER not in json.dumps(warning.__dict__, default=str)


@pytest.mark.parametrize(
    "refusal",
    [
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}]},
        "ThrottlingException",
        "AccessDeniedException",
    ],
)
def test_a_refused_event_fails_no_upload_and_is_logged_and_counted(served, lambda_context, caplog, capsys, refusal):
    with Stubber(clients.events_client()) as stubber:  # the client the functions' factory hands out
        if isinstance(refusal, dict):
            stubber.add_response("put_events", refusal)
        else:
            stubber.add_client_error("put_events", service_error_code=refusal, http_status_code=400)

        responses = upload(served, "uploads/refused.txt", b"loved it\nhated it\n", lambda_context)

        stubber.assert_no_pending_responses()  # the function did try to put it
    assert all(response == {"batchItemFailures": []} for response in responses)
    summary = json.loads(served.get_data("results/refused.txt.summary.json"))
    assert (summary["status"], summary["lines"]) == ("done", 2)
    assert served.get_data("results/refused.txt.predictions.jsonl").count(b"\n") == 2
    (warning,) = [r for r in caplog.records if r.getMessage() == "event not put"]
    assert warning.upload_key == "uploads/refused.txt"
    assert (refusal if isinstance(refusal, str) else "ThrottlingException") in warning.reason
    assert events_not_put(capsys.readouterr().out) == 1
