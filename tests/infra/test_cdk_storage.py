"""The storage stack: private, encrypted, TLS-only, logged, retained buckets."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from template_queries import resources

from functions import contract
from infra import settings

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def buckets(templates):
    found = resources(templates["Storage"], "AWS::S3::Bucket")
    assert len(found) == 3  # models, data, access logs
    return found


def _bucket(buckets, name: str) -> dict:
    (bucket,) = [resource for logical_id, resource in buckets.items() if name in logical_id]
    return bucket


def test_every_bucket_is_encrypted_private_and_retained(buckets):
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert (
            properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
                "SSEAlgorithm"
            ]
            == "AES256"
        ), logical_id
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert bucket["DeletionPolicy"] == "Retain", logical_id


def test_every_bucket_refuses_requests_without_tls(templates, buckets):
    policies = resources(templates["Storage"], "AWS::S3::BucketPolicy")
    protected = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                assert statement["Action"] == "s3:*"
                protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert protected == set(buckets)


def test_models_and_data_buckets_write_access_logs_to_the_log_bucket(buckets):
    log_bucket_id = next(logical_id for logical_id in buckets if "AccessLogs" in logical_id)
    for name in ("ModelsBucket", "DataBucket"):
        logging = _bucket(buckets, name)["Properties"]["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == {"Ref": log_bucket_id}


def test_models_bucket_is_versioned(buckets):
    assert _bucket(buckets, "ModelsBucket")["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def _enabled_rules(buckets, name: str) -> list[dict]:
    rules = _bucket(buckets, name)["Properties"]["LifecycleConfiguration"]["Rules"]
    return [rule for rule in rules if rule["Status"] == "Enabled"]


def test_data_bucket_expires_uploads_results_and_jobs_after_the_retention_and_chunk_work_sooner(buckets):
    rules = _enabled_rules(buckets, "DataBucket")
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}
    assert expiring == {
        contract.UPLOADS_PREFIX: settings.DEFAULT_DATA_RETENTION_DAYS,
        contract.RESULTS_PREFIX: settings.DEFAULT_DATA_RETENTION_DAYS,
        contract.JOBS_PREFIX: settings.DEFAULT_DATA_RETENTION_DAYS,
        contract.UPLOAD_WORK_PREFIX: settings.LEFTOVER_RETENTION_DAYS,
    }
    assert settings.LEFTOVER_RETENTION_DAYS < settings.DEFAULT_DATA_RETENTION_DAYS


@pytest.mark.parametrize("name", ["DataBucket", "ModelsBucket"])
def test_incomplete_multipart_uploads_anywhere_in_the_bucket_are_aborted(buckets, name):
    aborting = [rule for rule in _enabled_rules(buckets, name) if "AbortIncompleteMultipartUpload" in rule]

    assert [rule["AbortIncompleteMultipartUpload"] for rule in aborting] == [
        {"DaysAfterInitiation": settings.LEFTOVER_RETENTION_DAYS}
    ]
    assert "Prefix" not in aborting[0] and "Filter" not in aborting[0]


def test_bucket_names_and_arns_are_exported_for_the_other_stacks(templates):
    exports = {
        output["Export"]["Name"]
        for output in templates["Storage"].find_outputs("*", {"Export": Match.any_value()}).values()
    }
    assert exports == {
        f"Sentiment-dev-Storage-{bucket}{attribute}"
        for bucket in ("ModelsBucket", "DataBucket")
        for attribute in ("Name", "Arn")
    }
