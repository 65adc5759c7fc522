"""The REST API: DESIGN.md's routes on functions.api, API keys on usage plans, validation against
the request models, the gateway's own answers in the API's error shape, access logs, throttling and
tracing."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft4Validator
from template_queries import function_for_handler, resources

from functions import contract
from functions.api_models import ClassifyRequest, ErrorResponse, JobRequest, gateway_request_schema
from infra import settings
from infra.local import gateway

pytestmark = pytest.mark.infra

DESIGN_ROUTES = {
    ("POST", "/classify"),
    ("POST", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/model"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
}
# the API's description of itself, which browsers open without a key (docs/serving.md)
KEYLESS_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs")}


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
        assert method["ApiKeyRequired"] is (route not in KEYLESS_ROUTES), route
        assert method["AuthorizationType"] == "NONE", route


def test_the_openapi_document_and_the_docs_page_need_no_api_key(methods):
    assert {route: methods[route]["ApiKeyRequired"] for route in KEYLESS_ROUTES} == dict.fromkeys(KEYLESS_ROUTES, False)


def test_post_bodies_are_validated_against_the_request_models(service, methods):
    validators = resources(service, "AWS::ApiGateway::RequestValidator")
    models = resources(service, "AWS::ApiGateway::Model")
    for route, request_model in ((("POST", "/classify"), ClassifyRequest), (("POST", "/jobs"), JobRequest)):
        method = methods[route]
        validator = validators[method["RequestValidatorId"]["Ref"]]["Properties"]
        assert validator["ValidateRequestBody"] is True
        model = models[method["RequestModels"]["application/json"]["Ref"]]["Properties"]
        assert model["Schema"] == gateway_request_schema(request_model)
        assert model["ContentType"] == "application/json"


def test_the_job_id_path_parameter_is_required(methods):
    assert methods[("GET", "/jobs/{job_id}")]["RequestParameters"] == {"method.request.path.job_id": True}


@pytest.fixture(scope="module")
def gateway_validators(service, methods) -> dict[str, Draft4Validator]:
    models = resources(service, "AWS::ApiGateway::Model")

    def validator(route):
        model_id = methods[route]["RequestModels"]["application/json"]["Ref"]
        return Draft4Validator(models[model_id]["Properties"]["Schema"])

    return {"classify": validator(("POST", "/classify")), "jobs": validator(("POST", "/jobs"))}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("classify", {"text": "a", "texts": ["b"]}),
        ("classify", {}),
        ("classify", {"text": ""}),
        ("classify", {"text": "a", "lang": "en"}),
        ("classify", {"texts": ["a"] * 65}),
        ("classify", {"text": "x" * 20_001}),
        ("jobs", {"texts": ["a"] * 10_001}),
        ("jobs", {"texts": [""]}),
    ],
)
def test_the_gateway_refuses_what_the_function_refuses(gateway_validators, route, body):
    assert not gateway_validators[route].is_valid(body)


@pytest.mark.parametrize(
    ("route", "body"),
    [("classify", {"text": "a"}), ("classify", {"texts": ["x" * 20_000] * 64}), ("jobs", {"texts": ["a"] * 10_000})],
)
def test_the_gateway_passes_what_the_function_accepts(gateway_validators, route, body):
    assert gateway_validators[route].is_valid(body)


@pytest.fixture(scope="module")
def gateway_responses(service) -> dict[str, dict]:
    return {
        found["Properties"]["ResponseType"]: found["Properties"]
        for found in resources(service, "AWS::ApiGateway::GatewayResponse").values()
    }


def render(template: str) -> dict:
    """The body API Gateway makes of a gateway response template (plain variable substitution)."""
    rendered = template.replace("$context.error.messageString", json.dumps('Gateway "says" no'))
    rendered = rendered.replace("$context.error.validationErrorString", "[object has missing required properties]")
    assert "$context" not in rendered
    return json.loads(rendered)


def test_every_answer_of_the_gateway_itself_is_customized(gateway_responses):
    # missing route or key, throttled, quota, too large, timeout, validator, and the catch-alls
    assert set(gateway_responses) == set(contract.GATEWAY_ANSWERS)
    assert {"MISSING_AUTHENTICATION_TOKEN", "INVALID_API_KEY", "THROTTLED", "QUOTA_EXCEEDED"} <= set(gateway_responses)
    assert {"REQUEST_TOO_LARGE", "INTEGRATION_TIMEOUT", "BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        gateway_responses
    )


@pytest.mark.parametrize("response_type", sorted(contract.GATEWAY_ANSWERS))
def test_every_gateway_answer_has_the_function_error_shape(gateway_responses, response_type):
    response = gateway_responses[response_type]

    body = render(response["ResponseTemplates"]["application/json"])

    ErrorResponse.model_validate(body)
    assert set(body) == {"error", "message"} and body["error"] == contract.GATEWAY_ANSWERS[response_type].error
    assert response["ResponseParameters"] == {"gatewayresponse.header.Content-Type": "'application/json'"}


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "403"),
        ("INVALID_API_KEY", "403"),
        ("THROTTLED", "429"),
        ("QUOTA_EXCEEDED", "429"),
        ("REQUEST_TOO_LARGE", "413"),
        ("INTEGRATION_TIMEOUT", "504"),
    ],
)
def test_gateway_answers_keep_their_status(gateway_responses, response_type, status):
    assert gateway_responses[response_type]["StatusCode"] == status


def test_the_request_validator_answers_422_invalid_request_with_its_findings(gateway_responses):
    response = gateway_responses["BAD_REQUEST_BODY"]

    body = render(response["ResponseTemplates"]["application/json"])

    assert response["StatusCode"] == "422"
    assert body["error"] == "invalid_request"
    assert "$context.error.validationErrorString" in response["ResponseTemplates"]["application/json"]
    assert body["message"].endswith("[object has missing required properties]")


LOCAL_ERRORS = [
    gateway.MISSING_TOKEN,
    gateway.FORBIDDEN,
    gateway.TOO_MANY_REQUESTS,
    gateway.QUOTA_EXCEEDED,
    gateway.TOO_LONG,
    gateway.INTERNAL_ERROR,
    gateway.TIMED_OUT,
]


@pytest.mark.parametrize("error", LOCAL_ERRORS, ids=lambda error: error.response_type)
def test_the_local_gateway_answers_as_the_deployed_gateway_responses(gateway_responses, error):
    response = gateway_responses[error.response_type]
    template = response["ResponseTemplates"]["application/json"]
    deployed = json.loads(template.replace("$context.error.messageString", json.dumps(error.message)))

    local = gateway.error_response(error, "r-1")

    assert json.loads(local.body) == deployed
    assert str(local.status) == response.get("StatusCode", str(error.status))


def test_the_catch_alls_keep_the_status_api_gateway_chose(gateway_responses):
    assert "StatusCode" not in gateway_responses["DEFAULT_4XX"]
    assert "StatusCode" not in gateway_responses["DEFAULT_5XX"]


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
