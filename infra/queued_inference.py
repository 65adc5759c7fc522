"""Queued jobs: ``POST /jobs`` puts a job id on this queue, ``functions.jobs`` works it off."""

from __future__ import annotations

from constructs import Construct

from functions import contract
from infra import settings
from infra.serving_function import ServingFunction, ServingResources
from infra.storage import grant_prefix_read, grant_prefix_write
from infra.work_queue import WorkQueue


class QueuedInference(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, serving: ServingResources, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.work = WorkQueue(self, "Jobs", queue=settings.JOBS_QUEUE)
        self.worker = ServingFunction(
            self,
            "Worker",
            serving=serving,
            function=settings.JOBS_QUEUE.consumer,
            # the consumer marks a job failed on the delivery after which SQS gives up on it
            environment={"MAX_RECEIVE_COUNT": str(settings.JOBS_QUEUE.max_receive_count)},
        )
        # reads jobs/<id>/request.json, writes jobs/<id>/result.json
        grant_prefix_read(self.worker.role, serving.data_bucket, contract.JOBS_PREFIX)
        grant_prefix_write(self.worker.role, serving.data_bucket, contract.JOBS_PREFIX)
        # a finished job puts its "Job Finished" event (functions.events)
        serving.event_bus.grant_put_events_to(self.worker.role)
        self.work.consume_with(self.worker.function)
