"""A deployment with every context option set the way `cdk deploy -c key=value` passes them
(as strings), for a concrete account and region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_synthesis import synthesize, templates_of
from template_queries import resources

from functions import contract
from infra.deploy_config import DeployConfig

pytestmark = pytest.mark.infra

CONTEXT = {
    "stage": "prod",
    "architecture": "x86_64",
    "iamAuth": "true",
    "dataRetentionDays": "7",
    "alarmEmail": "ops@example.com",
    "trainingMaxVcpus": "8",
    "account": "123456789012",
    "region": "eu-west-1",
}


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk.out"), **CONTEXT)


@pytest.fixture(scope="module")
def templates(configured):
    config = DeployConfig.from_context(CONTEXT.get, {})
    return templates_of(configured, config)


def test_stacks_are_named_for_the_stage_and_bound_to_the_account_and_region(configured):
    assert {stack.stack_name: stack.environment.name for stack in configured.stacks} == {
        f"Sentiment-prod-{part}": "aws://123456789012/eu-west-1" for part in ("Storage", "Service", "Training")
    }


def test_a_concrete_environment_needs_no_lookup_in_aws(configured):
    manifest = json.loads(Path(configured.directory, "manifest.json").read_text())
    assert manifest.get("missing", []) == []


def test_iam_auth_makes_every_route_require_a_signature_and_still_a_key(templates):
    methods = resources(templates["Service"], "AWS::ApiGateway::Method").values()
    # the OpenAPI document and the docs page stay open to browsers, which cannot sign (docs/serving.md)
    assert (
        sorted(
            (method["Properties"]["AuthorizationType"], method["Properties"]["ApiKeyRequired"]) for method in methods
        )
        == [("AWS_IAM", True)] * 5 + [("NONE", False)] * 2
    )


def test_the_stage_is_the_api_stage(templates):
    (stage,) = resources(templates["Service"], "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "prod"


def test_functions_run_on_the_chosen_architecture(templates):
    for function in resources(templates["Service"], "AWS::Lambda::Function").values():
        if function["Properties"].get("Handler", "").startswith("functions."):
            assert function["Properties"]["Architectures"] == ["x86_64"]


def test_data_expires_after_the_chosen_retention(templates):
    (data_bucket,) = [
        bucket
        for logical_id, bucket in resources(templates["Storage"], "AWS::S3::Bucket").items()
        if "DataBucket" in logical_id
    ]
    rules = data_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    data_prefixes = {contract.UPLOADS_PREFIX, contract.RESULTS_PREFIX, contract.JOBS_PREFIX}
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if rule.get("Prefix") in data_prefixes}
    assert expiring == dict.fromkeys(data_prefixes, 7)


def test_alarms_are_mailed_to_the_alarm_address(templates):
    (subscription,) = resources(templates["Service"], "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


def test_training_scales_up_to_the_chosen_vcpus(templates):
    (environment,) = resources(templates["Training"], "AWS::Batch::ComputeEnvironment").values()
    assert environment["Properties"]["ComputeResources"]["MaxvCpus"] == 8
