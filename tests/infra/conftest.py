"""One in-process synthesis of the default deployment, shared by every template test.

Synthesis runs cdk-nag, so a fixture that returns at all proves the app nag-clean.
"""

from __future__ import annotations

import pytest
from app_synthesis import synthesize, templates_of  # first: it quiets jsii before aws_cdk loads

from infra.deploy_config import DeployConfig


@pytest.fixture(scope="session")
def assembly(tmp_path_factory):
    """The cloud assembly (`aws_cdk.cx_api.CloudAssembly`) of the default deployment."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def templates(assembly):
    """``{"Storage": Template, "Service": ..., "Training": ...}`` of the default deployment."""
    return templates_of(assembly, DeployConfig())
