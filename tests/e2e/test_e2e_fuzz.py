"""Fuzzing the API from its own OpenAPI document (schemathesis): no 5xx, and every response has
a documented status, content type and body shape, for valid and for invalid requests.

The gateway's 429s are waited out and the request sent again: they belong to the usage plan,
not to the function's API document. (Schemathesis' pytest integration is not used: its lazy
loader does not run under pytest 9; its Hypothesis strategies are what it would run anyway.)
"""

from __future__ import annotations

import pytest
import schemathesis
from cloud_user import API_KEY
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local.process import poll_until
from functions.contract import ROUTES

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
HEADERS = {"x-api-key": API_KEY}
EXAMPLES_PER_ROUTE = 25
# invalid requests only where a request has something to get wrong: a body or a path parameter
FUZZED = [
    (route, mode)
    for route in ROUTES
    if route.path != "/openapi.json"
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or route.request_model is not None or "{" in route.path
]


@pytest.fixture(scope="module")
def api_document(local_cloud):
    return schemathesis.openapi.from_url(f"{local_cloud.api_url}/openapi.json", headers=HEADERS)


@pytest.mark.parametrize(("route", "mode"), FUZZED, ids=[f"{route.method} {route.path} {mode.value}" for route, mode in FUZZED])
def test_api_answers_generated_requests_as_documented(api_document, local_cloud, route, mode):
    operation = api_document[route.path][route.method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answered_as_documented(case):
        def unthrottled():
            response = case.call(base_url=local_cloud.api_url, headers=HEADERS, timeout=30)
            return None if response.status_code == 429 else response

        response = poll_until(unthrottled, timeout=30, what="an unthrottled answer")
        case.validate_response(response, checks=CHECKS, headers=HEADERS)

    answered_as_documented()
