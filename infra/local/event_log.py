"""What the local cloud keeps of the events the functions put (DESIGN.md, Events).

moto's EventBridge delivers an event to the targets of the rules that match it, as AWS does, and
keeps nothing else. So the local cloud adds what a user would add to their account: a rule on the
default bus that sends the service's events about one data bucket to an SQS queue, where they
wait to be read (``aws sqs receive-message``, or `EventLog` here). Matching on the bucket keeps
apart runs that share a moto server, each with buckets of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from functions import contract
from infra.local.process import poll_until

DETAIL_TYPES = (contract.JOB_FINISHED, contract.UPLOAD_FINISHED)


@dataclass(frozen=True)
class EventQueue:
    url: str
    arn: str
    rule: str


def event_pattern(data_bucket: str) -> dict[str, Any]:
    """The service's finished events about work in ``data_bucket``."""
    return {"source": [contract.EVENT_SOURCE], "detail-type": list(DETAIL_TYPES), "detail": {"bucket": [data_bucket]}}


def create_event_queue(events, sqs, *, queue_name: str, rule_name: str, data_bucket: str) -> EventQueue:
    """A queue, and a rule on the default bus that sends it the events of `event_pattern`."""
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(
        Name=rule_name, EventBusName=contract.EVENT_BUS, EventPattern=json.dumps(event_pattern(data_bucket))
    )["RuleArn"]
    # what AWS needs before EventBridge may send to the queue (moto does not check it)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=rule_name, EventBusName=contract.EVENT_BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return EventQueue(url=url, arn=arn, rule=rule_name)


@dataclass
class EventLog:
    """The events of one queue of `create_event_queue`, as a reader sees them: each `read` takes
    what waits in the queue (deleting it there), and every event read stays in `events`."""

    sqs: Any
    queue_url: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def read(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """The events that arrived since the last read (waiting up to ``wait_seconds`` for one)."""
        arrived: list[dict[str, Any]] = []
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if arrived else wait_seconds
        ).get("Messages", []):
            arrived.extend(json.loads(message["Body"]) for message in messages)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        self.events.extend(arrived)
        return arrived

    def about(self, detail_type: str, **detail: Any) -> list[dict[str, Any]]:
        """Every event read so far (reading first) of ``detail_type`` whose detail has these values."""
        self.read()
        return [
            event
            for event in self.events
            if event["detail-type"] == detail_type and all(event["detail"].get(k) == v for k, v in detail.items())
        ]

    def wait_for(self, detail_type: str, *, timeout: float, **detail: Any) -> dict[str, Any]:
        """The first event `about` finds, waiting up to ``timeout`` seconds for it."""
        return poll_until(
            lambda: next(iter(self.about(detail_type, **detail)), None),
            timeout=timeout,
            what=f"a {detail_type!r} event with {detail}",
        )
