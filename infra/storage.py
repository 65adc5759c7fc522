"""The service's buckets, how other stacks reach them, and access one key prefix at a time.

Models and data outlive any deployment of the code (``RemovalPolicy.RETAIN``); every bucket is
encrypted, private, TLS-only and writes server access logs to a bucket of its own. The storage
stack exports each bucket's name and ARN under a fixed export name and the other stacks import
them: CloudFormation then refuses to delete the storage stack while a stack still uses it, and
the policies that name a bucket read the same in every deployment (which is what their cdk-nag
acknowledgments match).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions import contract
from infra import settings
from infra.nag import acknowledge, acknowledge_wildcard_resource


class ServiceStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, data_retention_days: int, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.access_logs_bucket = self._bucket(
            "AccessLogsBucket",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(settings.ACCESS_LOG_RETENTION_DAYS),
                )
            ],
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket receives the other buckets' access logs; logging it too would only log the logging.",
        )
        self.models_bucket = self._bucket(
            "ModelsBucket",
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="models-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-replaced-versions",
                    noncurrent_version_expiration=cdk.Duration.days(settings.MODEL_NONCURRENT_VERSION_DAYS),
                ),
                self._abort_incomplete_multipart_uploads(),
            ],
        )
        self.data_bucket = self._bucket(
            "DataBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                *(
                    s3.LifecycleRule(
                        id=f"expire-{prefix.rstrip('/')}",
                        prefix=prefix,
                        expiration=cdk.Duration.days(data_retention_days),
                    )
                    for prefix in (contract.UPLOADS_PREFIX, contract.RESULTS_PREFIX, contract.JOBS_PREFIX)
                ),
                # the work of a chunked file that never joined; where rules overlap (results/ too),
                # S3 expires an object at the earliest date
                s3.LifecycleRule(
                    id="expire-upload-work",
                    prefix=contract.UPLOAD_WORK_PREFIX,
                    expiration=cdk.Duration.days(settings.LEFTOVER_RETENTION_DAYS),
                ),
                self._abort_incomplete_multipart_uploads(),
            ],
        )

    def export(self, export_prefix: str) -> None:
        """Outputs each bucket's name and ARN as ``<export_prefix>-<Bucket>Name`` / ``...Arn``."""
        for construct_id, bucket in (("ModelsBucket", self.models_bucket), ("DataBucket", self.data_bucket)):
            for attribute, value in (("Name", bucket.bucket_name), ("Arn", bucket.bucket_arn)):
                cdk.CfnOutput(
                    self,
                    f"{construct_id}{attribute}",
                    value=value,
                    export_name=f"{export_prefix}-{construct_id}{attribute}",
                )

    @staticmethod
    def _abort_incomplete_multipart_uploads() -> s3.LifecycleRule:
        """For the whole bucket: a writer that crashed (a function that timed out, a client that
        gave up) leaves the parts of its upload behind, unseen by listings but billed."""
        return s3.LifecycleRule(
            id="abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload_after=cdk.Duration.days(settings.LEFTOVER_RETENTION_DAYS),
        )

    def _bucket(self, construct_id: str, **props) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            **props,
        )


def import_bucket(scope: Construct, construct_id: str, export_prefix: str) -> s3.IBucket:
    """A bucket that `ServiceStorage.export` exported; ``construct_id`` is "ModelsBucket" or "DataBucket"."""
    return s3.Bucket.from_bucket_attributes(
        scope,
        construct_id,
        bucket_name=cdk.Fn.import_value(f"{export_prefix}-{construct_id}Name"),
        bucket_arn=cdk.Fn.import_value(f"{export_prefix}-{construct_id}Arn"),
    )


def grant_prefix_read(grantee: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """GetObject under ``prefix``, plus ListBucket on the bucket.

    ListBucket cannot be narrowed with an ``s3:prefix`` condition here: S3 answers a GetObject of
    a missing key with 404 only to a caller that may list the bucket (else 403), and both the
    model pointer and ``GET /jobs/{job_id}`` must tell "missing" from "denied".
    """
    _grant_objects(grantee, bucket, prefix, ["s3:GetObject"])
    iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket"], resource_arns=[bucket.bucket_arn])


def grant_prefix_write(grantee: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """PutObject (multipart uploads included) under ``prefix``, nothing else."""
    _grant_objects(grantee, bucket, prefix, ["s3:PutObject", "s3:AbortMultipartUpload"])


def grant_prefix_delete(grantee: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    """DeleteObject under ``prefix``, nothing else."""
    _grant_objects(grantee, bucket, prefix, ["s3:DeleteObject"])


def _grant_objects(grantee: iam.Role, bucket: s3.IBucket, prefix: str, actions: list[str]) -> None:
    objects = bucket.arn_for_objects(f"{prefix}*")
    iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[objects])
    acknowledge_wildcard_resource(
        grantee, objects, "Scoped to the objects under one key prefix; the wildcard stands for their keys."
    )
