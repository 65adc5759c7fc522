"""A user's view of a running local cloud: an HTTP client with an API key, boto3 clients and the
AWS CLI, all pointed at its loopback ports; and waiting on a condition with a deadline."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import boto3
import requests

from infra.local import resources
from infra.local.event_log import EventLog
from infra.local.process import LocalCloudProcess, poll_until

API_KEY = "e2e-client-key-0123456789abcdef"
# a second client, so the throttling test empties a bucket nobody else draws on
SECOND_API_KEY = "e2e-other-client-key-0123456789"
# small enough that a file of a few hundred lines is split into several chunks
UPLOAD_CHUNK_BYTES = 4096
MODEL_REFRESH_SECONDS = 1
RETRY_AFTER_SECONDS = 1
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e", "AWS_DEFAULT_REGION": resources.REGION}


class LocalCloudUser:
    """What a user of the local cloud holds: its URLs, a key, and clients pointed at it."""

    def __init__(self, process: LocalCloudProcess) -> None:
        self.process = process
        self.api_url = process.api_url
        self.aws_endpoint = process.aws_endpoint
        self.http = requests.Session()
        self.http.headers["x-api-key"] = API_KEY
        session = boto3.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=resources.REGION,
        )
        self.s3 = session.client("s3", endpoint_url=self.aws_endpoint)
        self.sqs = session.client("sqs", endpoint_url=self.aws_endpoint)
        # the events the functions put, as the local cloud's rule keeps them; read by every test
        self.events = EventLog(self.sqs, self.queue_url(resources.EVENTS_QUEUE))

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.api_url + path, timeout=60, **kwargs)

    def aws(self, *arguments: str) -> str:
        """Runs the AWS CLI against the local cloud; its standard output."""
        command = [sys.executable, "-m", "awscli", "--endpoint-url", self.aws_endpoint, *arguments]
        environment = {"PATH": "/usr/bin:/bin", **CREDENTIALS}
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def queue_url(self, name: str) -> str:
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def data_object(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=resources.DATA_BUCKET, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def upload_results(self, name: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Waits for ``results/<name>.summary.json``; the summary and the prediction lines."""
        summary = poll_until(
            lambda: self.data_object(f"results/{name}.summary.json"), timeout=timeout, what=f"the summary of {name}"
        )
        predictions = self.data_object(f"results/{name}.predictions.jsonl") or b""
        return json.loads(summary), [json.loads(line) for line in predictions.decode().splitlines()]

    def finished_job(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            response = self.api("GET", f"/jobs/{job_id}")
            assert response.status_code == 200, response.text
            return response.json() if response.json()["status"] != "queued" else None

        return poll_until(finished, timeout=timeout, what=f"job {job_id}")
