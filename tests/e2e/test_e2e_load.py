"""The load benchmark (``make bench-local``), smaller: a bounded run on loopback with zero errors.
Its timings are printed, not asserted: they depend on the machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bounded_load_run_ends_by_itself_with_zero_errors(tiny_bundle_root, tmp_path):
    command = [
        sys.executable, "-m", "benchmarks.local_cloud",
        "--clients", "8", "--requests", "300",
        "--models", str(tiny_bundle_root), "--state-dir", str(tmp_path),
    ]  # fmt: skip

    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "300 POST /classify" in completed.stdout
    assert "errors 0" in completed.stdout
