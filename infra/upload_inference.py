"""File uploads: a file under ``uploads/`` raises an S3 notification into this queue, and
``functions.uploads`` classifies it (fanning a large file out in chunks through the same queue)
and writes under ``results/``."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from constructs import Construct

from functions import contract
from infra import settings
from infra.nag import acknowledge
from infra.serving_function import ServingFunction, ServingResources
from infra.storage import grant_prefix_delete, grant_prefix_read, grant_prefix_write
from infra.work_queue import WorkQueue

# CDK puts one handler per stack at the stack's root, under this id and a fixed suffix.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler"


class UploadInference(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, serving: ServingResources, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.work = WorkQueue(self, "Uploads", queue=settings.UPLOADS_QUEUE)
        self.worker = ServingFunction(
            self,
            "Worker",
            serving=serving,
            function=settings.UPLOADS_QUEUE.consumer,
            environment={
                "UPLOADS_QUEUE_URL": self.work.queue.queue_url,
                # the consumer writes a failed summary on the delivery after which SQS gives up
                "MAX_RECEIVE_COUNT": str(settings.UPLOADS_QUEUE.max_receive_count),
            },
        )
        grant_prefix_read(self.worker.role, serving.data_bucket, contract.UPLOADS_PREFIX)
        # the parts of a large file are written under results/, read back to be joined, and
        # deleted from the work prefix once joined
        grant_prefix_read(self.worker.role, serving.data_bucket, contract.RESULTS_PREFIX)
        grant_prefix_write(self.worker.role, serving.data_bucket, contract.RESULTS_PREFIX)
        grant_prefix_delete(self.worker.role, serving.data_bucket, contract.UPLOAD_WORK_PREFIX)
        self.work.queue.grant_send_messages(self.worker.role)
        # a finished upload puts its "Upload Finished" event (functions.events)
        serving.event_bus.grant_put_events_to(self.worker.role)
        self.work.consume_with(self.worker.function)

        # The bucket is imported from the storage stack, so the notification's custom resource
        # lives in this stack: it adds this notification to the bucket, leaves any others alone,
        # and goes away with this stack.
        serving.data_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3_notifications.SqsDestination(self.work.queue),
            s3.NotificationKeyFilter(prefix=contract.UPLOADS_PREFIX),
        )
        stack = cdk.Stack.of(self)
        for handler in stack.node.children:
            if handler.node.id.startswith(NOTIFICATIONS_HANDLER_ID):
                acknowledge(
                    handler,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's own handler that sets bucket notifications at deploy time; it only writes its logs "
                    "with this policy.",
                )
