"""The REST API: DESIGN.md's routes on functions.api, API keys on usage plans, validation,
access logs, throttling and tracing."""

from __future__ import annotations

import json

import pytest

from infra import settings
from template_queries import function_for_handler, resources

pytestmark = pytest.mark.infra

DESIGN_ROUTES = {
    ("POST", "/classify"),
    ("POST", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/model"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
}


@pytest.fixture(scope="module")
def service(templates):
    return templates["Service"]


@pytest.fixture(scope="module")
def methods(service) -> dict[tuple[str, str], dict]:
    """``{(method, path): properties}`` of every API method."""
    api_resources = resources(service, "AWS::ApiGateway::Resource")

    def path_of(reference) -> str:
        if "Fn::GetAtt" in reference:  # the root resource
            return ""
        resource = api_resources[reference["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (method["Properties"]["HttpMethod"], path_of(method["Properties"]["ResourceId"])): method["Properties"]
        for method in resources(service, "AWS::ApiGateway::Method").values()
    }


@pytest.fixture(scope="module")
def stage(service) -> dict:
    (found,) = resources(service, "AWS::ApiGateway::Stage").values()
    return found["Properties"]


def test_the_api_serves_exactly_the_design_routes(methods):
    assert set(methods) == DESIGN_ROUTES


def test_every_route_proxies_to_the_api_function(service, methods):
    api_function_id, _ = function_for_handler(service, settings.API_FUNCTION.handler)
    for route, method in methods.items():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", route
        assert api_function_id in json.dumps(integration["Uri"]), route


def test_every_route_needs_an_api_key_and_no_iam_signature_by_default(methods):
    for route, method in methods.items():
        assert method["ApiKeyRequired"] is True, route
        assert method["AuthorizationType"] == "NONE", route


def test_post_bodies_are_validated_against_the_contract_schemas(service, methods):
    validators = resources(service, "AWS::ApiGateway::RequestValidator")
    models = resources(service, "AWS::ApiGateway::Model")
    for route, schema in (
        (("POST", "/classify"), settings.REQUEST_SCHEMAS["ClassifyRequest"]),
        (("POST", "/jobs"), settings.REQUEST_SCHEMAS["JobRequest"]),
    ):
        method = methods[route]
        validator = validators[method["RequestValidatorId"]["Ref"]]["Properties"]
        assert validator["ValidateRequestBody"] is True
        model = models[method["RequestModels"]["application/json"]["Ref"]]["Properties"]
        assert model["Schema"] == schema
        assert model["ContentType"] == "application/json"


def test_the_job_id_path_parameter_is_required(methods):
    assert methods[("GET", "/jobs/{job_id}")]["RequestParameters"] == {"method.request.path.job_id": True}


def test_the_contract_schemas_enforce_the_request_limits():
    texts = settings.REQUEST_SCHEMAS["ClassifyRequest"]["properties"]["texts"]
    assert (texts["minItems"], texts["maxItems"]) == (1, 64)
    assert texts["items"]["maxLength"] == 20_000
    assert settings.REQUEST_SCHEMAS["ClassifyRequest"]["properties"]["text"]["maxLength"] == 20_000
    assert settings.REQUEST_SCHEMAS["JobRequest"]["properties"]["texts"]["maxItems"] == 10_000
    assert settings.REQUEST_SCHEMAS["JobRequest"]["required"] == ["texts"]


def test_stage_traces_throttles_and_writes_access_logs_without_bodies(service, stage):
    assert stage["StageName"] == "dev"
    assert stage["TracingEnabled"] is True
    assert "AccessLogSetting" in stage and "DestinationArn" in stage["AccessLogSetting"]
    (method_settings,) = stage["MethodSettings"]
    assert method_settings["DataTraceEnabled"] is False
    assert method_settings["ThrottlingRateLimit"] == settings.STAGE_THROTTLE.rate_per_second
    assert method_settings["ThrottlingBurstLimit"] == settings.STAGE_THROTTLE.burst


def test_the_usage_plan_limits_each_client_below_the_stage(service, stage):
    (plan,) = resources(service, "AWS::ApiGateway::UsagePlan").values()
    properties = plan["Properties"]
    (api_stage,) = properties["ApiStages"]
    assert api_stage["Stage"] == {"Ref": next(iter(resources(service, "AWS::ApiGateway::Stage")))}
    throttle = properties["Throttle"]
    assert throttle == {
        "RateLimit": settings.CLIENT_THROTTLE.rate_per_second,
        "BurstLimit": settings.CLIENT_THROTTLE.burst,
    }
    assert throttle["RateLimit"] < stage["MethodSettings"][0]["ThrottlingRateLimit"]
    assert throttle["BurstLimit"] < stage["MethodSettings"][0]["ThrottlingBurstLimit"]
    assert properties["Quota"] == {"Limit": settings.CLIENT_DAILY_QUOTA, "Period": "DAY"}


def test_an_api_key_is_bound_to_the_usage_plan(service):
    (key_id,) = resources(service, "AWS::ApiGateway::ApiKey")
    (plan_id,) = resources(service, "AWS::ApiGateway::UsagePlan")
    (binding,) = resources(service, "AWS::ApiGateway::UsagePlanKey").values()
    assert binding["Properties"] == {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}}
