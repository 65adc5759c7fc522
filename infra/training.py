"""Training on a GPU: AWS Batch runs ``model_build/Dockerfile`` on a g5/g6 instance that exists
only while a job does, and the job publishes its bundle to the models bucket.

The compute environment scales to zero vCPUs, so nothing runs (or costs) between jobs. It lives
in public subnets of a VPC of its own without NAT gateways (a NAT gateway bills by the hour):
the instance reaches ECR, CloudWatch Logs and the dataset URL through the internet gateway and
S3 through a gateway endpoint, and no security group lets anything in.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions import contract
from infra import settings
from infra.log_groups import service_log_group
from infra.nag import acknowledge
from infra.serving_package import REPO_ROOT
from infra.storage import grant_prefix_read, grant_prefix_write
from model_build.data import OFFICIAL_URL

DOCKERFILE = "model_build/Dockerfile"
# The image needs only what the Dockerfile copies; everything else stays out of the build
# context, so editing the rest of functions/ or tests/ does not rebuild (or re-push) the image.
# The quality gate measures int8 through serving's own runner and the card's languages are
# measured by serving's identifier, so the image carries those torch-free modules of functions/
# besides model_build/ (a test holds this list to what training imports).
IMAGE_FUNCTIONS_MODULES = ("__init__.py", "sentiment_model.py", "language.py")
IMAGE_CONTEXT_EXCLUDES = [
    "*",
    "!pyproject.toml",
    "!README.md",
    "!model_build",
    *(f"!functions/{name}" for name in IMAGE_FUNCTIONS_MODULES),
    "**/__pycache__",
]


class TrainingJob(Construct):
    MACHINE_IMAGE = batch.EcsMachineImageType.ECS_AL2023_NVIDIA
    # g5 and g6 are x86_64; build the image for them whatever machine runs `cdk deploy`
    IMAGE_PLATFORM = ecr_assets.Platform.LINUX_AMD64

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models_bucket: s3.IBucket,
        data_bucket: s3.IBucket,
        max_vcpus: int,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        training = settings.TRAINING

        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(service_log_group(self, "FlowLogs")),
        )
        instances = ec2.SecurityGroup(
            self,
            "Instances",
            vpc=vpc,
            description="GPU training instances: no inbound traffic",
            allow_all_outbound=True,
        )
        compute = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "GpuCompute",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[instances],
            instance_classes=[ec2.InstanceClass(family.upper()) for family in training.instance_families],
            use_optimal_instance_classes=False,
            images=[batch.EcsMachineImage(image_type=self.MACHINE_IMAGE)],
            minv_cpus=0,
            maxv_cpus=max_vcpus,
            update_to_latest_image_version=True,
        )
        acknowledge(
            compute,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
            "The instance role of Batch's ECS instances: AWS maintains this policy for the ECS agent.",
        )
        self.job_queue = batch.JobQueue(
            self,
            "JobQueue",
            compute_environments=[batch.OrderedComputeEnvironment(compute_environment=compute, order=1)],
            # a job no instance can ever take (no GPU quota in the account, no capacity) is
            # cancelled instead of waiting in RUNNABLE for good
            job_state_time_limit_actions=[
                batch.JobStateTimeLimitAction(max_time=cdk.Duration.hours(training.runnable_limit_hours), reason=reason)
                for reason in batch.JobStateTimeLimitActionsReason
            ],
        )

        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="The training container: reads and publishes model bundles, nothing else",
        )
        grant_prefix_read(self.job_role, models_bucket, contract.MODEL_PREFIX)
        grant_prefix_write(self.job_role, models_bucket, contract.MODEL_PREFIX)
        # a team's own labelled datasets (make train-cloud DATA=s3://<data bucket>/training-data/...)
        grant_prefix_read(self.job_role, data_bucket, contract.TRAINING_DATA_PREFIX)

        output = f"s3://{models_bucket.bucket_name}/{contract.MODEL_PREFIX.rstrip('/')}"
        container = batch.EcsEc2ContainerDefinition(
            self,
            "Trainer",
            image=ecs.ContainerImage.from_asset(
                str(REPO_ROOT),
                file=DOCKERFILE,
                platform=self.IMAGE_PLATFORM,
                exclude=IMAGE_CONTEXT_EXCLUDES,
                ignore_mode=cdk.IgnoreMode.DOCKER,
            ),
            cpu=training.job_vcpus,
            memory=cdk.Size.mebibytes(training.job_memory_mib),
            gpu=training.job_gpus,
            # the image's entry point is `python -m model_build.train`; Ref::arch and Ref::data are
            # job parameters (`make train-cloud` overrides the whole command for a labelled dataset)
            command=[
                "--arch",
                "Ref::arch",
                "--data",
                "Ref::data",
                "--device",
                "cuda",
                "--out",
                output,
                "--no-progress",
            ],
            environment={"AWS_DEFAULT_REGION": cdk.Stack.of(self).region},
            job_role=self.job_role,
            logging=ecs.LogDriver.aws_logs(stream_prefix="training", log_group=service_log_group(self, "Logs")),
        )
        acknowledge(
            container.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken, needed to pull the image, has no resource-level permissions.",
        )
        self.job_definition = batch.EcsJobDefinition(
            self,
            "JobDefinition",
            container=container,
            parameters={"arch": training.default_architecture, "data": OFFICIAL_URL},
            timeout=cdk.Duration.hours(training.timeout_hours),
            retry_attempts=training.attempts,
            # a trainer that exits non-zero (bad data, failed quality gate) fails for good; only a
            # lost instance or a failed image pull is worth another GPU hour
            retry_strategies=[batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.NON_ZERO_EXIT_CODE)],
            propagate_tags=True,
        )
