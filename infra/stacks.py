"""The three stacks: stateful storage, the serving service, and GPU training.

Storage stands alone so the service (and training) can be destroyed and redeployed without
touching models or data; the other two import its buckets' names and ARNs.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

from functions import contract
from infra.deploy_config import DeployConfig
from infra.inference_api import InferenceApi
from infra.monitoring import ServiceMonitoring
from infra.queued_inference import QueuedInference
from infra.serving_function import ServingResources, serving_code
from infra.storage import ServiceStorage, import_bucket
from infra.training import TrainingJob
from infra.upload_inference import UploadInference


class StorageStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = ServiceStorage(self, "Storage", data_retention_days=config.data_retention_days)
        storage.export(export_prefix=self.stack_name)


class ServiceStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, storage: StorageStack, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.add_stack_dependency(storage, "imports its buckets")
        serving = ServingResources(
            code=serving_code(config.architecture),
            architecture=config.architecture,
            models_bucket=import_bucket(self, "ModelsBucket", storage.stack_name),
            data_bucket=import_bucket(self, "DataBucket", storage.stack_name),
            # the account's default bus: users route the events with rules of their own (docs/deploy.md)
            event_bus=events.EventBus.from_event_bus_name(self, "DefaultEventBus", contract.EVENT_BUS),
        )
        queued = QueuedInference(self, "QueuedInference", serving=serving)
        uploads = UploadInference(self, "UploadInference", serving=serving)
        api = InferenceApi(
            self,
            "InferenceApi",
            serving=serving,
            jobs_queue=queued.work.queue,
            stage=config.stage,
            iam_auth=config.iam_auth,
        )
        ServiceMonitoring(
            self,
            "Monitoring",
            functions={
                "Api": api.handler.function,
                "Jobs": queued.worker.function,
                "Uploads": uploads.worker.function,
            },
            work_queues={"Jobs": queued.work.queue, "Uploads": uploads.work.queue},
            dead_letter_queues={"Jobs": queued.work.dead_letter_queue, "Uploads": uploads.work.dead_letter_queue},
            rest_api=api.rest_api,
            alarm_email=config.alarm_email,
        )
        cdk.CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        cdk.CfnOutput(self, "UsagePlanId", value=api.usage_plan.usage_plan_id)
        cdk.CfnOutput(self, "DefaultApiKeyId", value=api.default_key.key_id)


class TrainingStack(cdk.Stack):
    # The first two zones of the region, chosen by CloudFormation at deploy time: a stack with a
    # concrete account and region would otherwise look its zones up in AWS at synth time.
    @property
    def availability_zones(self) -> list[str]:
        return [cdk.Fn.select(index, cdk.Fn.get_azs()) for index in range(2)]

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, storage: StorageStack, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.add_stack_dependency(storage, "imports its buckets")
        training = TrainingJob(
            self,
            "Training",
            models_bucket=import_bucket(self, "ModelsBucket", storage.stack_name),
            data_bucket=import_bucket(self, "DataBucket", storage.stack_name),
            max_vcpus=config.training_max_vcpus,
        )
        cdk.CfnOutput(self, "JobQueueArn", value=training.job_queue.job_queue_arn)
        cdk.CfnOutput(self, "JobDefinitionArn", value=training.job_definition.job_definition_arn)
