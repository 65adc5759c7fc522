"""Fuzzing the API from its own OpenAPI document (schemathesis) with every check it has: no 5xx,
every response of a documented status, content type, headers and body shape, no request the
document calls valid refused and none it calls invalid accepted, undeclared methods and missing
headers refused.

Two ways: Hypothesis strategies per route and generation mode (schemathesis' pytest integration
does not run under pytest 9; its strategies are what it would run), and schemathesis' own runner
(`schemathesis run`), which adds the phases that only it has: the examples, the coverage phase's
boundary values, undeclared methods and missing headers, and stateful sequences of calls.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from cloud_user import API_KEY
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from functions.contract import DOCUMENTATION_ROUTES, ROUTES
from infra.local.process import poll_until

pytestmark = pytest.mark.e2e

HEADERS = {"x-api-key": API_KEY}
EXAMPLES_PER_ROUTE = 25
# schemathesis' statuses for a refused invalid request, and 413: an invalid body can be invalid by
# being too large (10,001 texts), which the API (or API Gateway) refuses as such
REFUSAL_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = {"checks": {"negative_data_rejection": {"expected-statuses": REFUSAL_STATUSES}}}
DOCUMENTED_ROUTES = [route for route in ROUTES if route not in DOCUMENTATION_ROUTES]
# invalid requests only where a request has something to get wrong: a body or a path parameter
FUZZED = [
    (route, mode)
    for route in DOCUMENTED_ROUTES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or route.request_model is not None or "{" in route.path
]


def every_check():
    load_all_checks()
    return list(CHECKS.get_all())


@pytest.fixture(scope="module")
def api_document(local_cloud):
    return schemathesis.openapi.from_url(
        f"{local_cloud.api_url}/openapi.json", headers=HEADERS, config=SchemathesisConfig.from_dict(CONFIG)
    )


def test_the_document_describes_every_route_but_its_own(api_document):
    documented = {
        (method.upper(), path) for path, methods in api_document.raw_schema["paths"].items() for method in methods
    }

    assert documented == {(route.method, route.path) for route in DOCUMENTED_ROUTES}


@pytest.mark.parametrize(
    ("route", "mode"), FUZZED, ids=[f"{route.method} {route.path} {mode.value}" for route, mode in FUZZED]
)
def test_api_answers_generated_requests_as_documented(api_document, local_cloud, route, mode):
    operation = api_document[route.path][route.method]
    checks = every_check()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answered_as_documented(case):
        def unthrottled():
            # a 429 is documented, but a throttled request tells nothing about the function
            response = case.call(base_url=local_cloud.api_url, headers=HEADERS, timeout=30)
            return None if response.status_code == 429 else response

        response = poll_until(unthrottled, timeout=30, what="an unthrottled answer")
        case.validate_response(response, checks=checks, headers=HEADERS)

    answered_as_documented()


def test_schemathesis_finds_nothing_in_any_phase_with_every_check(local_cloud, tmp_path):
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(REFUSAL_STATUSES)}\n")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config_file),
        "--no-color",
        "run",
        f"{local_cloud.api_url}/openapi.json",
        "--header",
        f"x-api-key: {API_KEY}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--report-dir",
        str(tmp_path / "report"),
    ]

    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    # the failures section, without the megabytes of generated bodies a curl line may quote
    summary = "\n".join(line[:300] for line in completed.stdout.splitlines()[-150:])
    assert completed.returncode == 0, summary + completed.stderr[-2000:]
    generated = re.search(r"(\d+) generated", completed.stdout)
    assert generated and int(generated.group(1)) > 100, summary
