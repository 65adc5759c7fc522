"""The deployment's knobs: memory, timeouts, batch sizes, redrive counts, throttles, alarms.

Plain Python with no aws_cdk and no torch: the CDK app builds the cloud from these numbers and
the local emulation (``python -m infra.local``) and the tests import the same ones, so a
timeout, a redrive count or a throttle cannot drift between the two topologies. What the
service promises (names, S3 layout, request limits, routes) is the runtime's, in
``functions/contract.py``; the functions never import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

# SQS redelivers a message whose consumer is still running once the visibility timeout passes;
# six times the consumer's timeout leaves room for Lambda's own retries of a throttled batch.
VISIBILITY_TIMEOUT_FACTOR = 6


@dataclass(frozen=True)
class FunctionSettings:
    handler: str
    memory_mb: int
    timeout_seconds: int


@dataclass(frozen=True)
class QueueSettings:
    consumer: FunctionSettings
    batch_size: int
    # deliveries before a message moves to the dead-letter queue
    max_receive_count: int
    # concurrent consumer invocations at most, so a burst of uploads cannot take the whole
    # account's Lambda concurrency away from the synchronous API
    max_concurrency: int
    dead_letter_retention_days: int = 14

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.consumer.timeout_seconds


# Lambda gives CPU in proportion to memory, and 1769 MB is one full vCPU. Every function is
# CPU-bound (preprocessing and inference; a warm process with the model holds ~140 MB), so
# with less memory each request, job, chunk and cold start takes longer in the same proportion
# for about the same GB-seconds: at 1024 MB, 1.7 times as long. `make bench` measures per vCPU.
# API Gateway's REST integrations time out at 29 s, so the API function never needs longer.
API_FUNCTION = FunctionSettings("functions.api.lambda_handler", memory_mb=1769, timeout_seconds=29)
JOBS_FUNCTION = FunctionSettings("functions.jobs.lambda_handler", memory_mb=1769, timeout_seconds=300)
UPLOADS_FUNCTION = FunctionSettings("functions.uploads.lambda_handler", memory_mb=1769, timeout_seconds=300)

# One message per invocation: a job holds up to 10,000 texts and an upload message is a whole
# file or one chunk of one, so a batch of several would only serialize work that can run in
# parallel.
JOBS_QUEUE = QueueSettings(consumer=JOBS_FUNCTION, batch_size=1, max_receive_count=3, max_concurrency=10)
UPLOADS_QUEUE = QueueSettings(consumer=UPLOADS_FUNCTION, batch_size=1, max_receive_count=3, max_concurrency=20)


@dataclass(frozen=True)
class Throttle:
    rate_per_second: int
    burst: int


# The stage limit bounds the whole API; each client's API key gets a smaller share through the
# usage plan, so one client alone cannot use up the stage.
STAGE_THROTTLE = Throttle(rate_per_second=200, burst=400)
CLIENT_THROTTLE = Throttle(rate_per_second=50, burst=100)
CLIENT_DAILY_QUOTA = 100_000

DEFAULT_DATA_RETENTION_DAYS = 30
MODEL_NONCURRENT_VERSION_DAYS = 90
ACCESS_LOG_RETENTION_DAYS = 90
# What failures leave behind expires after this many days: the chunk work of a file that never
# joined (under UPLOAD_WORK_PREFIX) and incomplete multipart uploads. Longer than a chunk message
# can wait in its queue (SQS keeps one 4 days by default), so a late chunk still finds its run.
LEFTOVER_RETENTION_DAYS = 7


@dataclass(frozen=True)
class AlarmThresholds:
    period_seconds: int = 300
    api_p99_latency_ms: int = 5_000
    # consecutive periods over the threshold before the latency alarm fires
    latency_evaluation_periods: int = 3


ALARMS = AlarmThresholds()


@dataclass(frozen=True)
class TrainingSettings:
    instance_families: tuple[str, ...] = ("g5", "g6")
    # the smallest size of both families: 4 vCPUs, 16 GiB, one NVIDIA GPU (A10G / L4)
    job_vcpus: int = 4
    # what a 16 GiB instance has left for containers after the ECS agent and the OS; asking for
    # more would leave the job RUNNABLE forever
    job_memory_mib: int = 14_336
    job_gpus: int = 1
    default_max_vcpus: int = 16
    default_architecture: str = "bow"
    timeout_hours: int = 3
    # a job still RUNNABLE after this (no GPU capacity or quota) is cancelled
    runnable_limit_hours: int = 4
    # attempts in all; a non-zero exit of the trainer is final, a lost instance is retried
    attempts: int = 2


TRAINING = TrainingSettings()
