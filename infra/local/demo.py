"""``make demo`` (serving side): the local cloud started, used the three ways DESIGN.md names, stopped.

    python -m infra.local.demo [--models artifacts/models]

Starts ``python -m infra.local`` (on ports 3000 and 4566 when they are free), classifies reviews
over HTTP, runs a queued job to completion, uploads a JSONL file with the AWS CLI, waits for its
results and prints them, prints the EventBridge event the job and the upload each put (read from
the local cloud's events queue), then stops the local cloud. Every step prints the command a user would
type for it. The reviews are written here; none comes from the dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import requests

from functions import contract
from infra.local import resources
from infra.local.event_log import EventLog
from infra.local.process import LocalCloudError, LocalCloudProcess, free_port, poll_until

REVIEWS = [
    "An absolute delight from start to finish, with a cast that clearly loved every minute.",
    "Two hours of my life I will never get back. The plot made no sense and the acting was wooden.",
    "Not bad at all, though the ending dragged on a little too long.",
]
UPLOAD_LINES = [
    {"id": "r1", "text": "A moving, beautifully shot film; I was in tears by the end."},
    {"id": "r2", "text": "Predictable, loud and far too long."},
    {"id": "r3"},  # no text: an error record at its position, the file goes on
    {"id": "r4", "text": "The best thing the director has made in years."},
]
UPLOAD_NAME = "demo-reviews"
SUMMARY_FIELDS = (
    "status", "lines", "classified", "answered", "errors", "labels", "abstained", "languages", "error_lines",
    "model_version",
)  # fmt: skip
TIMEOUT_SECONDS = 120


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show_command(command: list[str]) -> None:
    # double quotes where the shell should expand $API_KEY
    print("$ " + " ".join(f'"{part}"' if "$API_KEY" in part else shlex.quote(part) for part in command), flush=True)


class DemoClient:
    def __init__(self, cloud: LocalCloudProcess) -> None:
        self.cloud = cloud
        self.http = requests.Session()
        self.http.headers["x-api-key"] = cloud.api_keys[0]
        sqs = boto3.client(
            "sqs",
            endpoint_url=cloud.aws_endpoint,
            region_name=resources.REGION,
            aws_access_key_id=resources.LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=resources.LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        self.events = EventLog(sqs, sqs.get_queue_url(QueueName=resources.EVENTS_QUEUE)["QueueUrl"])

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        command = ["curl", "-s", "-X", method, f"{self.cloud.api_url}{path}", "-H", "x-api-key: $API_KEY"]
        if body is not None:
            command += ["-H", "content-type: application/json", "-d", json.dumps(body)]
        show_command(command)
        return self.http.request(method, f"{self.cloud.api_url}{path}", json=body, timeout=60)

    def aws(self, *arguments: str) -> str:
        """Runs and shows an AWS CLI command; its output."""
        show_command(["aws", "--endpoint-url", self.cloud.aws_endpoint, *arguments])
        return self._aws(arguments, check=True).stdout

    def aws_succeeds(self, *arguments: str) -> bool:
        return self._aws(arguments, check=False).returncode == 0

    def _aws(self, arguments: tuple[str, ...], *, check: bool) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", self.cloud.aws_endpoint, *arguments]
        environment = {**os.environ, **resources.LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": resources.REGION}
        completed = subprocess.run(command, capture_output=True, text=True, env=environment)
        if check and completed.returncode != 0:
            raise subprocess.CalledProcessError(
                completed.returncode, ["aws", *arguments], completed.stdout, completed.stderr
            )
        return completed


def classify(client: DemoClient) -> None:
    step("1. synchronous: POST /classify through the local API Gateway")
    answer = client.call("POST", "/classify", {"texts": REVIEWS}).json()
    print(f"model {answer['model_version']}:")
    for text, prediction in zip(REVIEWS, answer["predictions"]):
        print(f"  {answer_of(prediction)}  {text}")
    refused = requests.post(f"{client.cloud.api_url}/classify", json={"text": "no key"}, timeout=60)
    print(f"without x-api-key the gateway answers {refused.status_code} {refused.json()}")


def answer_of(prediction: dict[str, Any]) -> str:
    """A prediction object in a few characters: the label and its score, or why there is none."""
    if prediction["abstained"] is not None:
        return f"abstained ({prediction['abstained']['reason']}, language {prediction['language']})"
    return f"{prediction['label']:<8} {prediction['score']:.3f} {prediction['language']}"


def queued_job(client: DemoClient) -> None:
    step("2. queued: POST /jobs, the jobs queue, functions.jobs, GET /jobs/{job_id}")
    accepted = client.call("POST", "/jobs", {"texts": REVIEWS})
    job_id = accepted.json()["job_id"]
    print(f"{accepted.status_code} {accepted.json()}")

    def finished() -> dict[str, Any] | None:
        job = client.http.get(f"{client.cloud.api_url}/jobs/{job_id}", timeout=60).json()
        return None if job["status"] == "queued" else job

    job = poll_until(finished, timeout=TIMEOUT_SECONDS, what=f"the result of job {job_id}")
    show_command(["curl", "-s", f"{client.cloud.api_url}/jobs/{job_id}", "-H", "x-api-key: $API_KEY"])
    print(f"job {job_id}: {job['status']}, labels {[p['label'] for p in job.get('predictions') or []]}")
    show_event(client, contract.JOB_FINISHED, job_id=job_id)


def upload(client: DemoClient, work_dir: Path) -> None:
    step("3. file upload: aws s3 cp into uploads/, S3 notification, uploads queue, functions.uploads")
    source = work_dir / f"{UPLOAD_NAME}.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in UPLOAD_LINES))
    data = f"s3://{resources.DATA_BUCKET}"
    print(client.aws("s3", "cp", str(source), f"{data}/{contract.UPLOADS_PREFIX}{source.name}").strip())

    summary_key = f"{contract.RESULTS_PREFIX}{source.name}.summary.json"

    print(f"waiting for {data}/{summary_key} …", flush=True)
    poll_until(
        lambda: client.aws_succeeds("s3", "ls", f"{data}/{summary_key}"),
        timeout=TIMEOUT_SECONDS,
        what=f"{data}/{summary_key}",
    )
    print(client.aws("s3", "ls", f"{data}/{contract.RESULTS_PREFIX}{source.name}").rstrip())
    print(client.aws("s3", "cp", f"{data}/{contract.RESULTS_PREFIX}{source.name}.predictions.jsonl", "-").rstrip())
    document = json.loads(client.aws("s3", "cp", f"{data}/{summary_key}", "-"))
    print(
        json.dumps(
            {name: document[name] for name in SUMMARY_FIELDS},
            indent=2,
        )
    )
    show_event(client, contract.UPLOAD_FINISHED, upload_key=f"{contract.UPLOADS_PREFIX}{source.name}")


def show_event(client: DemoClient, detail_type: str, **detail: Any) -> None:
    """Waits for the event the work put on the default bus (the local cloud's rule keeps it in a
    queue) and prints it."""
    show_command(
        ["aws", "--endpoint-url", client.cloud.aws_endpoint, "sqs", "receive-message", "--queue-url",
         client.events.queue_url, "--wait-time-seconds", "5"]
    )  # fmt: skip
    event = client.events.wait_for(detail_type, timeout=TIMEOUT_SECONDS, **detail)
    print(f"the {detail_type!r} event it put on the default EventBridge bus:")
    print(json.dumps({name: event[name] for name in ("source", "detail-type", "time", "detail")}, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", type=Path, default=Path("artifacts/models"), help="local bundle folder (default: %(default)s)"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path("build/local-cloud-demo"), help="logs (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    cloud = LocalCloudProcess(
        api_keys=[secrets.token_urlsafe(24)],
        models=args.models,
        state_dir=args.state_dir,
        api_port=free_port(3000),
        aws_port=free_port(4566),
    )
    ports = f"--api-port {cloud.api_port} --aws-port {cloud.aws_port}"
    step(f"starting the local cloud: python -m infra.local {ports} --api-key $API_KEY")
    try:
        with cloud, tempfile.TemporaryDirectory() as work_dir:
            print(f"API {cloud.api_url}, S3 and SQS {cloud.aws_endpoint}, API_KEY={cloud.api_keys[0]}")
            print(f"API docs {cloud.api_url}/docs (Swagger UI: Authorize with API_KEY, then Try it out)")
            client = DemoClient(cloud)
            classify(client)
            queued_job(client)
            upload(client, Path(work_dir))
            step("stopping the local cloud (SIGTERM)")
    except (LocalCloudError, TimeoutError, requests.RequestException, subprocess.CalledProcessError) as error:
        print(f"error: {error} {getattr(error, 'stderr', '') or ''}", file=sys.stderr)
        print(
            f"the local cloud's output: {cloud.output_path}; the functions' logs: {args.state_dir / 'logs'}",
            file=sys.stderr,
        )
        return 1
    print(f"stopped. The functions' logs are in {args.state_dir / 'logs'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
