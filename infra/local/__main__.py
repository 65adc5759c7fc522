"""``python -m infra.local``: the service on loopback until Ctrl-C (or SIGTERM).

    python -m infra.local [--api-port 3000] [--aws-port 4566] [--host 127.0.0.1] [--api-key KEY ...]
                          [--models artifacts/models] [--no-throttle]

The functions get the environment the CDK stack gives them, pointed at moto; variables of this
process they also read (``MODEL_REFRESH_SECONDS``, ``UPLOAD_CHUNK_BYTES``, ``LOG_LEVEL``,
``POWERTOOLS_*``) pass through to them.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

from functions import contract
from infra import settings
from infra.local.cloud import LocalCloud, LocalCloudConfig, PortInUseError
from infra.local.gateway import API_KEY_LENGTHS
from infra.local.resources import REGION
from model_build.bundle import BundleError
from model_build.storage import StorageError

READY_LINE = "local cloud ready"
# the functions' own variables that a user may set for the local cloud
PASSED_THROUGH = ("MODEL_REFRESH_SECONDS", "UPLOAD_CHUNK_BYTES", "LOG_LEVEL")


def parse_args(argv: list[str] | None) -> LocalCloudConfig:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s, loopback only)"
    )
    parser.add_argument("--api-port", type=int, default=3000, help="the API (default: %(default)s)")
    parser.add_argument(
        "--aws-port", type=int, default=4566, help="moto's S3, SQS and EventBridge (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an API key of the usage plan (20 to 128 characters; repeat for several clients); "
        "default: a new random key",
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=Path("artifacts/models"),
        help="local bundle folder to publish; trained there if it has none (default: %(default)s)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("build/local-cloud"),
        help="logs and the containers' /tmp (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=2, help="containers of each function at most (default: %(default)s)"
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=2,
        help="seconds before a failed SQS record is retried (AWS: the visibility timeout; default: %(default)s)",
    )
    parser.add_argument("--no-throttle", action="store_true", help="no usage plan or stage throttling (for load tests)")
    args = parser.parse_args(argv)
    api_keys = tuple(args.api_keys or [secrets.token_urlsafe(24)])
    for key in api_keys:
        if len(key) not in API_KEY_LENGTHS:
            parser.error(f"an API key has {API_KEY_LENGTHS.start} to {API_KEY_LENGTHS.stop - 1} characters")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return LocalCloudConfig(
        api_keys=api_keys,
        host=args.host,
        api_port=args.api_port,
        aws_port=args.aws_port,
        models=args.models,
        state_dir=args.state_dir,
        concurrency=args.concurrency,
        throttled=not args.no_throttle,
        retry_after_seconds=args.retry_after,
        function_environment={
            name: value
            for name, value in os.environ.items()
            if name in PASSED_THROUGH or name.startswith("POWERTOOLS_")
        },
    )


def banner(cloud: LocalCloud) -> str:
    config, names = cloud.config, cloud.resources
    key = config.api_keys[0]
    aws = f"aws --endpoint-url {config.aws_endpoint}"
    throttle = (
        f"{settings.CLIENT_THROTTLE.rate_per_second} requests/s, burst {settings.CLIENT_THROTTLE.burst} per key"
        if config.throttled
        else "off"
    )
    return f"""
{READY_LINE}: serving model {cloud.model_version}

  API       {config.api_url}  (routes: {", ".join(f"{r.method} {r.path}" for r in contract.ROUTES)})
  docs      {config.api_url}/docs  (Swagger UI, no key needed to open it; Authorize with a key to call the API)
  API keys  {", ".join(config.api_keys)}  (header x-api-key; throttling {throttle})
  S3, SQS   {config.aws_endpoint}  (moto, EventBridge too; any credentials, region {REGION})
  buckets   s3://{names.model_bucket}/{contract.MODEL_PREFIX}  s3://{names.data_bucket}/{{{contract.UPLOADS_PREFIX},{contract.RESULTS_PREFIX},{contract.JOBS_PREFIX}}}
  queues    {names.jobs.url}  {names.uploads.url}  (DLQs: *-dlq)
  events    {names.events.url}  (the rule {names.events.rule} on the default bus sends it every
            "Job Finished" and "Upload Finished" event)
  logs      {config.logs_dir}/  (api.log, jobs.log, uploads.log: the functions; api-access.log: the gateway)

Try it:
  curl -s {config.api_url}/classify -H 'x-api-key: {key}' -H 'content-type: application/json' \\
       -d '{{"texts": ["A wonderful, moving film.", "Dull and far too long."]}}'
  curl -s {config.api_url}/jobs -H 'x-api-key: {key}' -H 'content-type: application/json' \\
       -d '{{"texts": ["Loved it."]}}'
  curl -s {config.api_url}/jobs/JOB_ID -H 'x-api-key: {key}'

  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={REGION}
  {aws} s3 cp reviews.jsonl s3://{names.data_bucket}/{contract.UPLOADS_PREFIX}reviews.jsonl
  {aws} s3 ls s3://{names.data_bucket}/{contract.RESULTS_PREFIX}
  {aws} s3 cp s3://{names.data_bucket}/{contract.RESULTS_PREFIX}reviews.jsonl.summary.json -
  {aws} sqs receive-message --queue-url {names.events.url} --wait-time-seconds 5
  (or export AWS_ENDPOINT_URL={config.aws_endpoint} and leave out --endpoint-url; boto3 reads it too)

Ctrl-C stops it.
"""


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())

    cloud = LocalCloud(config)
    try:
        cloud.start()
        health = cloud.warm_up()
        if health != 200:
            print(f"warning: GET /health answers {health}; see {config.logs_dir}/api.log", file=sys.stderr)
        print(banner(cloud), flush=True)
        stop.wait()
        print("stopping: finishing running invocations …", flush=True)
    except (PortInUseError, BundleError, StorageError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        cloud.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
