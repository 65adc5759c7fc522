"""The synchronous HTTPS API: API Gateway (REST) in front of ``functions.api``.

Every route of DESIGN.md needs an API key, except the two that describe the API (the OpenAPI
document and its docs page, ``contract.DOCUMENTATION_ROUTES``); each key belongs to a usage plan
whose per-client rate, burst and daily quota sit below the stage's limits, so no single client
can use up the API. Bodies are validated at the gateway against the draft 4 schemas of the
function's own request models, and the gateway's own answers take the function's error shape;
with ``iam_auth`` the keyed methods also require SigV4-signed requests.
"""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import api_models, contract
from infra import settings
from infra.log_groups import service_log_group
from infra.nag import acknowledge
from infra.serving_function import ServingFunction, ServingResources
from infra.storage import grant_prefix_read, grant_prefix_write

_PATH_PARAMETER = re.compile(r"{(\w+)}")
# the gateway responses whose message goes on with what the request validator found wrong
_VALIDATION_RESPONSES = ("BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS")


def gateway_response_template(response_type: str, answer: contract.GatewayAnswer) -> str:
    """The body API Gateway answers with for ``response_type``: the function's error shape.

    Gateway response templates are no VTL, only variable substitution: ``messageString`` is
    API Gateway's message already quoted, ``validationErrorString`` the validator's findings.
    """
    if answer.message is None:
        message = "$context.error.messageString"
    elif response_type in _VALIDATION_RESPONSES:
        message = json.dumps(f"{answer.message}: ")[:-1] + '$context.error.validationErrorString"'
    else:
        message = json.dumps(answer.message)
    return f'{{"error": {json.dumps(answer.error)}, "message": {message}}}'


class InferenceApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        serving: ServingResources,
        jobs_queue: sqs.IQueue,
        stage: str,
        iam_auth: bool,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.handler = ServingFunction(
            self,
            "Handler",
            serving=serving,
            function=settings.API_FUNCTION,
            environment={"JOBS_QUEUE_URL": jobs_queue.queue_url},
        )
        # POST /jobs writes jobs/<id>/request.json, GET /jobs/{job_id} reads the job back
        grant_prefix_read(self.handler.role, serving.data_bucket, contract.JOBS_PREFIX)
        grant_prefix_write(self.handler.role, serving.data_bucket, contract.JOBS_PREFIX)
        jobs_queue.grant_send_messages(self.handler.role)

        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-api",
            description="Sentiment classification: sync, queued jobs, model card (DESIGN.md)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway writes access logs only once the account has a CloudWatch role; this
            # sets it (one per account and region) so a first deploy does not fail on it.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # request and response bodies hold the clients' texts, which never go to logs
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(service_log_group(self, "AccessLogs")),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=settings.STAGE_THROTTLE.rate_per_second,
                throttling_burst_limit=settings.STAGE_THROTTLE.burst,
            ),
            default_method_options=apigw.MethodOptions(
                api_key_required=True,
                authorization_type=apigw.AuthorizationType.IAM if iam_auth else apigw.AuthorizationType.NONE,
            ),
        )
        self._add_routes()
        self._add_gateway_responses()
        self.usage_plan = self._add_client_plan()
        self.default_key = self.rest_api.add_api_key(
            "DefaultClientKey", description="A first client key; create one per client (docs/deploy.md)"
        )
        self.usage_plan.add_api_key(self.default_key)

        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF web ACL: it would cost money while the service is idle; API keys with per-client "
            "usage-plan throttles and quotas bound abuse.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "The clients are programs, not Cognito users: they present API keys bound to usage plans "
            "(DESIGN.md) and, with -c iamAuth=true, SigV4 signatures.",
        )
        if not iam_auth:
            acknowledge(
                self.rest_api,
                "AwsSolutions-APIG4",
                "Clients authenticate with API keys bound to usage plans (DESIGN.md); deploy with "
                "-c iamAuth=true to require SigV4-signed requests as well.",
            )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role that lets API Gateway write logs; AWS maintains this policy for exactly that.",
        )

    def _add_routes(self) -> None:
        integration = apigw.LambdaIntegration(self.handler.function, allow_test_invoke=False)
        validator = self.rest_api.add_request_validator(
            "ContractValidator", validate_request_body=True, validate_request_parameters=True
        )
        for route in contract.ROUTES:
            models = None
            if route.request_model is not None:
                schema = api_models.gateway_request_schema(getattr(api_models, route.request_model))
                model = apigw.CfnModel(
                    self,
                    f"{route.request_model}Model",
                    rest_api_id=self.rest_api.rest_api_id,
                    content_type="application/json",
                    schema=schema,
                )
                models = {"application/json": apigw.Model.from_model_name(self, f"{model.node.id}Ref", model.ref)}
                # a changed schema must reach the stage, which serves a snapshot: a new deployment
                self.rest_api.latest_deployment.add_to_logical_id(schema)
            method = self.rest_api.root.resource_for_path(route.path).add_method(
                route.method,
                integration,
                request_validator=validator,
                request_models=models,
                request_parameters={f"method.request.path.{name}": True for name in _PATH_PARAMETER.findall(route.path)}
                or None,
                **({} if route.api_key_required else self._public_method_options()),
            )
            if not route.api_key_required:
                acknowledge(
                    method,
                    "AwsSolutions-APIG4",
                    "The API's own OpenAPI document and docs page, opened by browsers, which can send "
                    "neither a key nor a signature; they reveal only the contract (functions/contract.py).",
                )

    def _add_gateway_responses(self) -> None:
        # API Gateway's own answers (bad key, throttled, too large, timed out...) in the shape of
        # the function's errors, so a client reads every error one way (contract.GATEWAY_ANSWERS)
        for response_type, answer in contract.GATEWAY_ANSWERS.items():
            self.rest_api.add_gateway_response(
                response_type.title().replace("_", ""),
                type=apigw.ResponseType.of(response_type),
                status_code=None if answer.status is None else str(answer.status),
                response_headers={"Content-Type": "'application/json'"},
                templates={"application/json": gateway_response_template(response_type, answer)},
            )

    @staticmethod
    def _public_method_options() -> dict:
        # no key and no SigV4 even with iam_auth: why, at contract.DOCUMENTATION_ROUTES
        return {"api_key_required": False, "authorization_type": apigw.AuthorizationType.NONE}

    def _add_client_plan(self) -> apigw.UsagePlan:
        plan = self.rest_api.add_usage_plan(
            "ClientPlan",
            description="Per-client limits: each API key on this plan gets its own rate, burst and quota",
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.CLIENT_THROTTLE.rate_per_second, burst_limit=settings.CLIENT_THROTTLE.burst
            ),
            quota=apigw.QuotaSettings(limit=settings.CLIENT_DAILY_QUOTA, period=apigw.Period.DAY),
        )
        plan.add_api_stage(stage=self.rest_api.deployment_stage)
        return plan
