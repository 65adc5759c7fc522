"""Synthesizing the CDK app in-process, as `cdk synth` would: cdk.json's context (its feature
flags) plus the test's own, with Lambda bundling switched off (``aws:cdk:bundling-stacks: []``)
unless a test builds the package itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import cx_api  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.deploy_config import DeployConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STACK_PARTS = ("Storage", "Service", "Training")


def cdk_json_context() -> dict:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def synthesize(outdir: Path, **context) -> cx_api.CloudAssembly:
    app = build_app({**cdk_json_context(), "aws:cdk:bundling-stacks": [], **context}, outdir=str(outdir))
    return app.synth()


def templates_of(assembly: cx_api.CloudAssembly, config: DeployConfig) -> dict[str, Template]:
    """``{"Storage": Template, "Service": ..., "Training": ...}``."""
    return {
        part: Template.from_json(assembly.get_stack_by_name(config.stack_name(part)).template) for part in STACK_PARTS
    }
