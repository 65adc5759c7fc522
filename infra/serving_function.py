"""One Lambda function of the serving code: its own role, log group, tracing and environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions import contract
from functions.init_phase import RUNTIME_ENVIRONMENT
from infra import settings
from infra.log_groups import service_log_group
from infra.nag import acknowledge
from infra.serving_package import ServingPackage
from infra.storage import grant_prefix_read

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}


@jsii.implements(cdk.ILocalBundling)
class _PipBundling:
    """CDK's local bundling hook: builds the package with pip instead of a Docker container."""

    def __init__(self, package: ServingPackage) -> None:
        self._package = package

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        self._package.build(Path(output_dir))
        return True


def serving_code(architecture: str) -> lambda_.Code:
    """The asset all three functions share; its hash follows the package's content."""
    package = ServingPackage(python_version=RUNTIME.name.removeprefix("python"), architecture=architecture)
    return lambda_.Code.from_asset(
        str(package.root),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=package.content_hash(),
        # The image is what CDK would run if local bundling declined; _PipBundling never does.
        bundling=cdk.BundlingOptions(image=RUNTIME.bundling_image, local=_PipBundling(package)),
    )


@dataclass(frozen=True)
class ServingResources:
    """What every serving function shares: the code, the CPU architecture, the two buckets, and the
    bus the workers put their finished events on (DESIGN.md, Events)."""

    code: lambda_.Code
    architecture: str
    models_bucket: s3.IBucket
    data_bucket: s3.IBucket
    event_bus: events.IEventBus

    def environment(self) -> dict[str, str]:
        """The contract's variables (DESIGN.md) that every function reads, and the runtime's own."""
        return {
            **RUNTIME_ENVIRONMENT,
            "MODEL_BUCKET": self.models_bucket.bucket_name,
            "MODEL_PREFIX": contract.MODEL_PREFIX,
            "DATA_BUCKET": self.data_bucket.bucket_name,
            "MODEL_REFRESH_SECONDS": str(contract.MODEL_REFRESH_SECONDS),
        }


class ServingFunction(Construct):
    """A function with a role of its own that may read the published models and write its logs;
    callers grant it whatever else it needs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        serving: ServingResources,
        function: settings.FunctionSettings,
        environment: Mapping[str, str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {function.handler}",
        )
        log_group = service_log_group(self, "Logs")
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[serving.architecture],
            handler=function.handler,
            code=serving.code,
            memory_size=function.memory_mb,
            timeout=cdk.Duration.seconds(function.timeout_seconds),
            role=self.role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**serving.environment(), **(environment or {})},
        )
        log_group.grant_write(self.role)
        grant_prefix_read(self.role, serving.models_bucket, contract.MODEL_PREFIX)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The package's wheels are built for CPython 3.12 (serving_package.py); a newer runtime "
            "means rebuilding and testing them, not a setting to flip.",
        )
