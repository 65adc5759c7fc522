"""The CDK app: ``npx cdk synth`` / ``npx cdk deploy`` run ``python -m infra.app`` (cdk.json).

Deployment choices (stage, architecture, IAM auth, retention, alarm e-mail, training vCPUs,
account and region) are context keys read by `DeployConfig`; docs/deploy.md lists them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

from functions import contract
from infra.deploy_config import DeployConfig
from infra.nag import add_checks
from infra.stacks import ServiceStack, StorageStack, TrainingStack


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    config = DeployConfig.from_context(app.node.try_get_context, os.environ)
    common = {
        "config": config,
        "env": cdk.Environment(account=config.account, region=config.region),
        "tags": {"app": contract.APP_NAME, "stage": config.stage},
    }
    storage = StorageStack(
        app,
        config.stack_name("Storage"),
        description="Sentiment service: models and data buckets (retained on delete)",
        termination_protection=True,
        **common,
    )
    ServiceStack(
        app,
        config.stack_name("Service"),
        storage=storage,
        description="Sentiment service: API, queued and upload inference on Lambda, monitoring",
        **common,
    )
    TrainingStack(
        app,
        config.stack_name("Training"),
        storage=storage,
        description="Sentiment service: GPU training on AWS Batch, scaled to zero when idle",
        **common,
    )
    add_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
