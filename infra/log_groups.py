"""Log groups of the service: one retention for all, removed with the stack that owns them."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

RETENTION = logs.RetentionDays.ONE_MONTH


def service_log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(scope, construct_id, retention=RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY)
