"""The buckets and queues of the service in moto, declared as the CDK stacks declare them, and the
rule that keeps the events the functions put (`event_log`), which a user would add to AWS.

The local cloud, the functional tests and the benchmarks all provision them here: the local
cloud under fixed names, a test or a benchmark run under names of its own (`ResourceNames.unique`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from functions import contract
from functions.init_phase import RUNTIME_ENVIRONMENT
from infra import settings
from infra.local import event_log

REGION = "us-east-1"
# moto's default account, the one every queue ARN it hands out carries
ACCOUNT_ID = "123456789012"
# moto accepts any credentials; the functions and clients still need some to sign with
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

_NAME = contract.APP_NAME.lower()
MODEL_BUCKET = f"{_NAME}-models"
DATA_BUCKET = f"{_NAME}-data"
JOBS_QUEUE = f"{_NAME}-jobs"
UPLOADS_QUEUE = f"{_NAME}-uploads"
EVENTS_QUEUE = f"{_NAME}-events"
EVENTS_RULE = f"{_NAME}-finished-to-queue"
DEAD_LETTER_SUFFIX = "-dlq"


@dataclass(frozen=True)
class ResourceNames:
    model_bucket: str = MODEL_BUCKET
    data_bucket: str = DATA_BUCKET
    jobs_queue: str = JOBS_QUEUE
    uploads_queue: str = UPLOADS_QUEUE
    events_queue: str = EVENTS_QUEUE
    events_rule: str = EVENTS_RULE

    @classmethod
    def unique(cls) -> ResourceNames:
        """Names no other test or run uses, so that runs sharing a moto server stay apart."""
        suffix = uuid.uuid4().hex[:12]
        names = (MODEL_BUCKET, DATA_BUCKET, JOBS_QUEUE, UPLOADS_QUEUE, EVENTS_QUEUE, EVENTS_RULE)
        return cls(*(f"{name}-{suffix}" for name in names))


# the local cloud's: one service per moto server
LOCAL_NAMES = ResourceNames()


@dataclass(frozen=True)
class WorkQueue:
    """A queue, its dead-letter queue and the settings both were made from."""

    url: str
    arn: str
    dead_letter_url: str
    settings: settings.QueueSettings


@dataclass(frozen=True)
class LocalResources:
    model_bucket: str
    data_bucket: str
    jobs: WorkQueue
    uploads: WorkQueue
    events: event_log.EventQueue  # where the rule sends the events of this data bucket's work
    model_prefix: str = contract.MODEL_PREFIX

    def function_environment(self) -> dict[str, str]:
        """The variables of DESIGN.md that name these resources, and the runtime's own, as the CDK
        stack sets them."""
        return {
            **RUNTIME_ENVIRONMENT,
            "MODEL_BUCKET": self.model_bucket,
            "MODEL_PREFIX": self.model_prefix,
            "DATA_BUCKET": self.data_bucket,
            "JOBS_QUEUE_URL": self.jobs.url,
            "UPLOADS_QUEUE_URL": self.uploads.url,
        }


def provision(s3, sqs, events, names: ResourceNames = LOCAL_NAMES) -> LocalResources:
    """Creates the buckets, the two work queues with their DLQs, the uploads notification, and the
    events queue with its rule on the default bus."""
    s3.create_bucket(Bucket=names.model_bucket)
    s3.put_bucket_versioning(Bucket=names.model_bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=names.data_bucket)
    jobs = create_work_queue(sqs, names.jobs_queue, settings.JOBS_QUEUE)
    uploads = create_work_queue(sqs, names.uploads_queue, settings.UPLOADS_QUEUE)
    # S3 sends an s3:TestEvent to the queue when this is set; functions.uploads skips it
    s3.put_bucket_notification_configuration(
        Bucket=names.data_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": uploads.arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": contract.UPLOADS_PREFIX}]}},
                }
            ]
        },
    )
    # as the storage stack declares them (moto keeps them but does not act on them)
    s3.put_bucket_lifecycle_configuration(
        Bucket=names.data_bucket, LifecycleConfiguration={"Rules": leftover_rules(contract.UPLOAD_WORK_PREFIX)}
    )
    s3.put_bucket_lifecycle_configuration(Bucket=names.model_bucket, LifecycleConfiguration={"Rules": leftover_rules()})
    finished = event_log.create_event_queue(
        events, sqs, queue_name=names.events_queue, rule_name=names.events_rule, data_bucket=names.data_bucket
    )
    return LocalResources(
        model_bucket=names.model_bucket, data_bucket=names.data_bucket, jobs=jobs, uploads=uploads, events=finished
    )


def leftover_rules(work_prefix: str | None = None) -> list[dict]:
    """The storage stack's clean-up rules: chunk work of a file that never joined expires, and an
    incomplete multipart upload anywhere in the bucket is aborted."""
    days = settings.LEFTOVER_RETENTION_DAYS
    rules = [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
        }
    ]
    if work_prefix is not None:
        rules.append(
            {
                "ID": "expire-upload-work",
                "Status": "Enabled",
                "Filter": {"Prefix": work_prefix},
                "Expiration": {"Days": days},
            }
        )
    return rules


def create_work_queue(sqs, name: str, queue: settings.QueueSettings) -> WorkQueue:
    """A queue with a dead-letter queue of its own, redriven after `queue.max_receive_count` receives."""
    dead_letter_url = sqs.create_queue(
        QueueName=name + DEAD_LETTER_SUFFIX,
        Attributes={"MessageRetentionPeriod": str(queue.dead_letter_retention_days * 24 * 3600)},
    )["QueueUrl"]
    redrive = {"deadLetterTargetArn": _arn(sqs, dead_letter_url), "maxReceiveCount": queue.max_receive_count}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return WorkQueue(url=url, arn=_arn(sqs, url), dead_letter_url=dead_letter_url, settings=queue)


def _arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
