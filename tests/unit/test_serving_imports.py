"""The Lambda entry points import neither torch nor anything that builds a client at import."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_handlers_imports_no_torch_and_no_xray():
    script = (
        "import json, sys\n"
        "import functions.api, functions.jobs, functions.uploads\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'aws_xray_sdk', 'onnx', 'sklearn'})))\n"
    )
    # no environment at all: importing must not need one either
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
