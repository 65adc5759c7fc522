"""Reading deployment choices from CDK context: defaults, strings from `-c`, clear refusals."""

from __future__ import annotations

import pytest

from infra.deploy_config import DeployConfig, DeployConfigError

pytestmark = pytest.mark.infra


def _config(context: dict, environ: dict | None = None) -> DeployConfig:
    return DeployConfig.from_context(context.get, environ or {})


def test_no_context_gives_an_environment_agnostic_dev_deployment_on_arm64():
    assert _config({}) == DeployConfig(stage="dev", architecture="arm64", iam_auth=False, account=None, region=None)


def test_account_and_region_come_from_the_cli_environment_unless_the_context_names_them():
    environ = {"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "us-west-2"}
    assert (_config({}, environ).account, _config({}, environ).region) == ("111111111111", "us-west-2")
    overridden = _config({"account": "222222222222", "region": "eu-central-1"}, environ)
    assert (overridden.account, overridden.region) == ("222222222222", "eu-central-1")


@pytest.mark.parametrize(("given", "expected"), [("true", True), ("False", False), (True, True), ("0", False)])
def test_flags_accept_cli_strings_and_json_booleans(given, expected):
    assert _config({"iamAuth": given}).iam_auth is expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stage", "Prod"),
        ("stage", "a-stage-name-far-too-long"),
        ("architecture", "arm"),
        ("iamAuth", "maybe"),
        ("dataRetentionDays", "0"),
        ("dataRetentionDays", "seven"),
        ("trainingMaxVcpus", "2"),
        ("alarmEmail", "ops"),
    ],
)
def test_a_malformed_value_is_refused_naming_its_key(key, value):
    with pytest.raises(DeployConfigError, match=key):
        _config({key: value})


def test_stack_names_carry_the_stage():
    assert _config({"stage": "qa"}).stack_name("Service") == "Sentiment-qa-Service"
