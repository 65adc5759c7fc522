"""Queued jobs: POST /jobs -> jobs queue (moto SQS) -> functions.jobs -> GET /jobs/{id}."""

import json

import pytest
from serving_harness import api_event, response_json

from functions import api, jobs
from functions.object_store import Bucket, StorageError
from infra.settings import JOBS_QUEUE

pytestmark = pytest.mark.functional


def submit(texts, context) -> str:
    response = api.lambda_handler(api_event("POST", "/jobs", {"texts": texts}), context)
    assert response["statusCode"] == 202
    body = response_json(response)
    assert body["status"] == "queued"
    return body["job_id"]


def status_of(job_id, context):
    response = api.lambda_handler(api_event("GET", f"/jobs/{job_id}"), context)
    return response["statusCode"], response_json(response)


def test_a_job_is_stored_queued_by_id_then_classified(served, lambda_context):
    texts = ["wonderful superb film", "awful boring mess"]
    job_id = submit(texts, lambda_context)

    (message,) = served.receive(served.jobs_queue_url)
    assert json.loads(message["Body"]) == {"job_id": job_id}  # only the id travels on the queue
    assert json.loads(served.get_data(f"jobs/{job_id}/request.json"))["texts"] == texts
    assert status_of(job_id, lambda_context) == (200, {"job_id": job_id, "status": "queued"})

    response = jobs.lambda_handler(served.sqs_event(served.jobs_queue_url, [message]), lambda_context)

    assert response == {"batchItemFailures": []}
    status, body = status_of(job_id, lambda_context)
    direct = response_json(api.lambda_handler(api_event("POST", "/classify", {"texts": texts}), lambda_context))
    assert status == 200
    assert (body["status"], body["model_version"]) == ("done", served.version)
    assert body["predictions"] == direct["predictions"]  # the prediction objects of /classify


def test_a_job_abstains_on_a_text_with_nothing_to_learn_from_and_explains_nothing(served, lambda_context):
    job_id = submit(["\u200b\u200b", "wonderful superb film"], lambda_context)
    served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    status, body = status_of(job_id, lambda_context)

    assert (status, body["status"]) == (200, "done")
    abstained, answered = body["predictions"]
    assert (abstained["label"], abstained["score"], abstained["probabilities"]) == (None, None, None)
    assert abstained["abstained"]["reason"] == "no_evidence" and isinstance(abstained["language"], str)
    assert answered["label"] == "positive" and answered["abstained"] is None
    assert not any("explanation" in prediction for prediction in body["predictions"])


def test_a_result_written_before_predictions_had_a_language_reads_as_a_prediction_of_today(served, lambda_context):
    # GIVEN a result of the service before it detected languages or abstained
    job_id = "0123456789abcdef0123456789abcdef"
    earlier = {"label": "positive", "score": 0.9, "probabilities": {"negative": 0.1, "positive": 0.9}}
    served.put_data(f"jobs/{job_id}/request.json", json.dumps({"texts": ["fine"]}).encode())
    served.put_data(
        f"jobs/{job_id}/result.json",
        json.dumps({"job_id": job_id, "status": "done", "model_version": "v0", "predictions": [earlier]}).encode(),
    )

    status, body = status_of(job_id, lambda_context)

    assert status == 200
    assert body["predictions"] == [{**earlier, "language": "und", "abstained": None}]


def test_a_redelivered_job_keeps_its_first_result(served, lambda_context):
    job_id = submit(["good"], lambda_context)
    (message,) = served.receive(served.jobs_queue_url)
    event = served.sqs_event(served.jobs_queue_url, [message])
    jobs.lambda_handler(event, lambda_context)
    first = served.s3.head_object(Bucket=served.data_bucket, Key=f"jobs/{job_id}/result.json")

    assert jobs.lambda_handler(event, lambda_context) == {"batchItemFailures": []}

    again = served.s3.head_object(Bucket=served.data_bucket, Key=f"jobs/{job_id}/result.json")
    assert (again["ETag"], again["LastModified"]) == (first["ETag"], first["LastModified"])


def test_only_the_failing_record_of_a_batch_is_retried(served, lambda_context, monkeypatch):
    healthy, unlucky = submit(["good"], lambda_context), submit(["bad"], lambda_context)
    messages = served.receive(served.jobs_queue_url)
    original = Bucket.get_bytes

    def throttled_for_one_job(self, key):
        if key == f"jobs/{unlucky}/request.json":
            raise StorageError("SlowDown")
        return original(self, key)

    monkeypatch.setattr(Bucket, "get_bytes", throttled_for_one_job)
    response = jobs.lambda_handler(served.sqs_event(served.jobs_queue_url, messages), lambda_context)

    failing = [m["MessageId"] for m in messages if json.loads(m["Body"])["job_id"] == unlucky]
    assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == failing
    assert status_of(healthy, lambda_context)[1]["status"] == "done"
    assert status_of(unlucky, lambda_context)[1]["status"] == "queued"

    monkeypatch.setattr(Bucket, "get_bytes", original)  # S3 recovers; SQS delivers the message again
    retry = [m for m in messages if m["MessageId"] in failing]
    assert jobs.lambda_handler(served.sqs_event(served.jobs_queue_url, retry), lambda_context) == {
        "batchItemFailures": []
    }
    assert status_of(unlucky, lambda_context)[1]["status"] == "done"


def test_a_job_without_a_model_is_retried_not_failed(cloud, lambda_context):
    job_id = submit(["good"], lambda_context)

    response = cloud.deliver(cloud.jobs_queue_url, jobs.lambda_handler, lambda_context)[0]

    assert len(response["batchItemFailures"]) == 1
    assert status_of(job_id, lambda_context)[1]["status"] == "queued"


@pytest.mark.parametrize(
    "request_body, reason",
    [
        (None, "does not exist"),
        (b"{broken", "not valid JSON"),
        (json.dumps({"texts": []}).encode(), "1 to 10000 texts"),
        # validated by the model POST /jobs validates with: a text that is no string is no text
        (
            json.dumps(
                {"job_id": "0123456789abcdef0123456789abcdef", "texts": ["fine", 5], "submitted_at": 1.0}
            ).encode(),
            "(texts)",
        ),
    ],
)
def test_a_job_that_cannot_succeed_is_failed_with_its_reason_and_not_retried(
    served, lambda_context, request_body, reason
):
    job_id = "0123456789abcdef0123456789abcdef"
    if request_body is not None:
        served.put_data(f"jobs/{job_id}/request.json", request_body)
    served.sqs.send_message(QueueUrl=served.jobs_queue_url, MessageBody=json.dumps({"job_id": job_id}))

    (response,) = served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    assert response == {"batchItemFailures": []}
    result = json.loads(served.get_data(f"jobs/{job_id}/result.json"))
    assert result["status"] == "failed" and reason in result["error"]
    if request_body is not None:
        status, body = status_of(job_id, lambda_context)
        assert (status, body["status"]) == (200, "failed") and reason in body["error"]


@pytest.mark.parametrize("body", ["not json", json.dumps({"job_id": "../uploads/x"}), json.dumps(["a"])])
def test_a_message_that_names_no_job_is_dropped(served, lambda_context, body):
    served.sqs.send_message(QueueUrl=served.jobs_queue_url, MessageBody=body)

    (response,) = served.drain(served.jobs_queue_url, jobs.lambda_handler, lambda_context)

    assert response == {"batchItemFailures": []}
    assert served.data_keys("jobs/") == []


@pytest.mark.parametrize(
    "job_id",
    ["0123456789abcdef0123456789abcdef", "not-an-id", "..%2F..%2Fuploads%2Fsecret", "ABCDEF0123456789ABCDEF0123456789"],
)
def test_an_unknown_or_malformed_job_id_is_404_and_reads_nothing_else(served, lambda_context, job_id, monkeypatch):
    served.put_data("uploads/secret.jsonl", b'{"text": "private"}\n')
    read_keys = []
    original = Bucket.get_bytes
    monkeypatch.setattr(Bucket, "get_bytes", lambda self, key: read_keys.append(key) or original(self, key))

    status, body = status_of(job_id, lambda_context)

    assert (status, body["error"]) == (404, "job_not_found")
    assert all(key.startswith(f"jobs/{job_id}/") for key in read_keys)


def test_the_last_delivery_of_a_job_that_keeps_failing_marks_it_failed(served, lambda_context, monkeypatch):
    job_id = submit(["good"], lambda_context)
    (message,) = served.receive(served.jobs_queue_url)

    original = Bucket.get_bytes

    def request_unreadable(self, key):  # e.g. archived to Glacier: every read fails
        if key == f"jobs/{job_id}/request.json":
            raise StorageError("InvalidObjectState")
        return original(self, key)

    monkeypatch.setattr(Bucket, "get_bytes", request_unreadable)
    for attempt in range(1, JOBS_QUEUE.max_receive_count + 1):
        message["Attributes"]["ApproximateReceiveCount"] = str(attempt)
        response = jobs.lambda_handler(served.sqs_event(served.jobs_queue_url, [message]), lambda_context)
        # every delivery fails (so SQS moves the last one to the dead-letter queue) ...
        assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == [message["MessageId"]]
        expected = "failed" if attempt == JOBS_QUEUE.max_receive_count else "queued"
        # ... and only the last one gives up on the job
        assert status_of(job_id, lambda_context)[1]["status"] == expected
