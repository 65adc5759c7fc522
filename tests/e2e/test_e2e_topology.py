"""The local cloud declares its queues and notification with the numbers the CDK stacks use (infra.settings)."""

from __future__ import annotations

import json

import pytest

from functions import contract
from infra import settings
from infra.local import resources

pytestmark = pytest.mark.e2e

QUEUES = {resources.JOBS_QUEUE: settings.JOBS_QUEUE, resources.UPLOADS_QUEUE: settings.UPLOADS_QUEUE}


@pytest.mark.parametrize("name", QUEUES)
def test_work_queue_redrives_to_its_dlq_after_the_configured_receive_count(local_cloud, name):
    attributes = local_cloud.sqs.get_queue_attributes(QueueUrl=local_cloud.queue_url(name), AttributeNames=["All"])[
        "Attributes"
    ]
    dead_letter_arn = local_cloud.sqs.get_queue_attributes(
        QueueUrl=local_cloud.queue_url(name + resources.DEAD_LETTER_SUFFIX), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": QUEUES[name].max_receive_count}
    assert int(attributes["VisibilityTimeout"]) == QUEUES[name].visibility_timeout_seconds


def test_only_uploads_prefix_notifies_the_uploads_queue(local_cloud):
    configuration = local_cloud.s3.get_bucket_notification_configuration(Bucket=resources.DATA_BUCKET)

    (queue,) = configuration["QueueConfigurations"]
    rules = [(rule["Name"].lower(), rule["Value"]) for rule in queue["Filter"]["Key"]["FilterRules"]]
    assert rules == [("prefix", contract.UPLOADS_PREFIX)]
    assert queue["QueueArn"].endswith(f":{resources.UPLOADS_QUEUE}")


def test_the_buckets_clean_up_leftovers_as_the_storage_stack_does(local_cloud):
    data_rules = local_cloud.s3.get_bucket_lifecycle_configuration(Bucket=resources.DATA_BUCKET)["Rules"]
    model_rules = local_cloud.s3.get_bucket_lifecycle_configuration(Bucket=resources.MODEL_BUCKET)["Rules"]

    work = {rule["ID"]: rule for rule in data_rules}["expire-upload-work"]
    assert work["Filter"]["Prefix"] == contract.UPLOAD_WORK_PREFIX
    assert work["Expiration"]["Days"] == settings.LEFTOVER_RETENTION_DAYS
    for rules in (data_rules, model_rules):
        (abort,) = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
        assert abort["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == settings.LEFTOVER_RETENTION_DAYS
