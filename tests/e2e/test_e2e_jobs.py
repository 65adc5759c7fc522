"""Queued jobs end to end: the API queues, the jobs poller invokes functions.jobs, the API reports."""

from __future__ import annotations

import json
import uuid

import pytest

from functions import contract
from infra import settings
from infra.local import resources
from infra.local.process import poll_until

pytestmark = pytest.mark.e2e


def test_job_is_accepted_as_queued(local_cloud):
    response = local_cloud.api("POST", "/jobs", json={"texts": ["a wonderful film"]})

    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def test_job_runs_to_done_with_one_prediction_per_text_in_order(local_cloud):
    texts = ["superb moving story", "dull clumsy waste"] * 100
    job_id = local_cloud.api("POST", "/jobs", json={"texts": texts}).json()["job_id"]

    job = local_cloud.finished_job(job_id)

    assert job["status"] == "done"
    assert [prediction["label"] for prediction in job["predictions"]] == ["positive", "negative"] * 100


def test_job_abstains_on_a_text_with_nothing_to_learn_from(local_cloud):
    job_id = local_cloud.api("POST", "/jobs", json={"texts": ["\u200b\u200b", "superb moving story"]}).json()["job_id"]

    job = local_cloud.finished_job(job_id)

    abstained, answered = job["predictions"]
    assert (abstained["label"], abstained["score"], abstained["probabilities"]) == (None, None, None)
    assert abstained["abstained"]["reason"] == "no_evidence"
    assert answered["label"] == "positive" and answered["abstained"] is None


def test_a_finished_job_puts_its_event_on_the_default_bus(local_cloud):
    job_id = local_cloud.api("POST", "/jobs", json={"texts": ["superb moving story", "\u200b\u200b"]}).json()["job_id"]
    local_cloud.finished_job(job_id)

    event = local_cloud.events.wait_for(contract.JOB_FINISHED, job_id=job_id, timeout=30)

    assert (event["source"], event["detail"]["status"]) == (contract.EVENT_SOURCE, "done")
    assert event["detail"]["counts"] == {"texts": 2, "answered": 1, "abstained": 1}
    assert event["detail"]["result_key"] == f"{contract.JOBS_PREFIX}{job_id}/result.json"
    assert "superb" not in json.dumps(event)


def test_unknown_job_is_404(local_cloud):
    response = local_cloud.api("GET", f"/jobs/{uuid.uuid4().hex}")

    assert response.status_code == 404


def _dead_letters(local_cloud, queue_url: str) -> list[dict]:
    # visibility 0: looking at the dead-letter queue leaves its messages there for the next look
    return local_cloud.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])


def test_poison_job_ends_in_the_dead_letter_queue_and_reads_as_failed(local_cloud):
    # GIVEN a queued job whose request S3 refuses on every delivery (archived to Glacier)
    job_id = uuid.uuid4().hex
    local_cloud.s3.put_object(
        Bucket=resources.DATA_BUCKET,
        Key=f"{contract.JOBS_PREFIX}{job_id}/request.json",
        Body=json.dumps({"job_id": job_id, "texts": ["a fine film"]}).encode(),
        StorageClass="GLACIER",
    )
    local_cloud.sqs.send_message(
        QueueUrl=local_cloud.queue_url(resources.JOBS_QUEUE), MessageBody=json.dumps({"job_id": job_id})
    )
    dead_letter_url = local_cloud.queue_url(resources.JOBS_QUEUE + resources.DEAD_LETTER_SUFFIX)

    # WHEN every delivery fails, THEN SQS moves it to the DLQ after the configured receive count
    message = poll_until(
        lambda: next((m for m in _dead_letters(local_cloud, dead_letter_url) if job_id in m["Body"]), None),
        timeout=60,
        what="the poison job in the dead-letter queue",
    )
    assert int(message["Attributes"]["ApproximateReceiveCount"]) > settings.JOBS_QUEUE.max_receive_count
    # AND the API reports the job as failed, not queued forever
    job = local_cloud.api("GET", f"/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert job["error"]
