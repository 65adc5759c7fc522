"""An SQS work queue with its dead-letter queue, consumed by one function with partial batch responses."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import settings


class WorkQueue(Construct):
    # SQS-managed keys: S3 event notifications cannot publish to a queue encrypted with the
    # AWS-managed KMS key, and a customer key would cost money while the service is idle.
    ENCRYPTION = sqs.QueueEncryption.SQS_MANAGED

    def __init__(self, scope: Construct, construct_id: str, *, queue: settings.QueueSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = queue
        self.dead_letter_queue = self._queue(
            "DeadLetterQueue", retention_period=cdk.Duration.days(queue.dead_letter_retention_days)
        )
        self.queue = self._queue(
            "Queue",
            visibility_timeout=cdk.Duration.seconds(queue.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=queue.max_receive_count
            ),
        )

    def _queue(self, construct_id: str, **props) -> sqs.Queue:
        return sqs.Queue(self, construct_id, encryption=self.ENCRYPTION, enforce_ssl=True, **props)

    def consume_with(self, function: lambda_.Function) -> None:
        """Connects the consumer the settings were sized for (``queue.consumer``); failed records
        of a batch come back alone, not the whole batch."""
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=self._settings.batch_size,
                max_concurrency=self._settings.max_concurrency,
                report_batch_item_failures=True,
            )
        )
