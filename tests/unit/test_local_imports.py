"""The local cloud runs where neither the CDK nor torch is installed: importing it pulls in neither."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import sys
import infra.local.__main__, infra.local.demo
print(sorted({name.split(".")[0] for name in sys.modules} & {"torch", "aws_cdk", "jsii"}))
"""


def test_local_cloud_imports_neither_aws_cdk_nor_torch():
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)

    assert completed.stdout.strip() == "[]"
