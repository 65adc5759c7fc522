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
        "heavy = {'torch', 'aws_xray_sdk', 'onnx', 'sklearn'}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    # no environment at all: importing must not need one either
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_clients_know_only_the_services_the_functions_use(aws_credentials):
    # botocore's default loader lists ~400 service folders on every cold start instead
    from functions import clients

    clients._session.cache_clear()
    try:
        assert clients._session().get_available_services() == sorted(clients.SERVICES)
        assert clients.s3_client().meta.service_model.service_name == "s3"
        assert clients.sqs_client().meta.service_model.service_name == "sqs"
        assert clients.events_client().meta.service_model.service_name == "events"
    finally:
        for factory in (clients._session, clients.s3_client, clients.sqs_client, clients.events_client):
            factory.cache_clear()


@pytest.mark.parametrize("collector_on", [True, False])
def test_importing_the_handlers_leaves_the_garbage_collector_as_it_found_it(collector_on):
    # the handlers pause it while they import (functions/init_phase.py)
    script = (
        "import gc\n"
        f"{'gc.enable()' if collector_on else 'gc.disable()'}\n"
        "import functions.api, functions.jobs, functions.uploads\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(collector_on), "True"]
