"""The API's description of itself: ``GET /openapi.json`` and the Swagger UI page ``GET /docs``."""

import json
import re

import pytest
from serving_harness import api_event, response_json

from functions import api
from functions.contract import API_KEY_HEADER, DOCUMENTATION_ROUTES, ROUTES

pytestmark = pytest.mark.functional


def get(path, context, query=None):
    event = api_event("GET", path)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in (query or {}).items()} or None
    return api.lambda_handler(event, context)


@pytest.fixture
def document(cloud, lambda_context):
    return response_json(get("/openapi.json", lambda_context))


def operations(document):
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_document_declares_the_api_key_header_scheme(document):
    (scheme,) = document["components"]["securitySchemes"].values()

    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", API_KEY_HEADER)


def test_every_documented_route_requires_the_api_key(document):
    (scheme_name,) = document["components"]["securitySchemes"]
    keyed = {(route.method, route.path) for route in ROUTES if route.api_key_required}

    requirements = {
        route: operation.get("security", document.get("security")) for route, operation in operations(document).items()
    }

    assert set(requirements) == keyed
    assert all(requirement == [{scheme_name: []}] for requirement in requirements.values()), requirements


def test_the_docs_page_is_html_with_swagger_ui_inline(cloud, lambda_context):
    response = get("/docs", lambda_context)

    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["text/html"]
    assert "SwaggerUIBundle(" in response["body"]


def test_the_docs_page_loads_nothing_from_another_place(cloud, lambda_context):
    page = get("/docs", lambda_context)["body"]

    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)\s*=", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.IGNORECASE)


def test_the_docs_page_embeds_the_document_that_openapi_json_serves(cloud, lambda_context):
    page = get("/docs", lambda_context)["body"]
    embedded = get("/docs", lambda_context, query={"format": "json"})["body"]

    # the page's own copy, escaped for a <script> element as the page carries it
    assert embedded in page
    assert json.loads(embedded) == response_json(get("/openapi.json", lambda_context))


def test_the_documentation_routes_are_left_out_of_the_document(document):
    assert not {route.path for route in DOCUMENTATION_ROUTES} & set(document["paths"])
