"""Each role may touch exactly its part of the buckets: no function can write a model, training
cannot see the data, each worker writes only its own prefix and puts events on the default bus only."""

from __future__ import annotations

import pytest
from template_queries import allowed_resources, function_for_handler, policy_statements, resources, role_of

from functions import contract
from infra import settings

pytestmark = pytest.mark.infra

MODELS = "Sentiment-dev-Storage-ModelsBucketArn"
DATA = "Sentiment-dev-Storage-DataBucketArn"
HANDLERS = (settings.API_FUNCTION.handler, settings.JOBS_FUNCTION.handler, settings.UPLOADS_FUNCTION.handler)
# what each function may read, write and delete in the data bucket (DESIGN.md's flows)
DATA_ACCESS = {
    settings.API_FUNCTION.handler: {"read": {"jobs/"}, "write": {"jobs/"}, "delete": set()},
    settings.JOBS_FUNCTION.handler: {"read": {"jobs/"}, "write": {"jobs/"}, "delete": set()},
    settings.UPLOADS_FUNCTION.handler: {
        "read": {"uploads/", "results/"},
        "write": {"results/"},
        "delete": {contract.UPLOAD_WORK_PREFIX},
    },
}


def _function_statements(templates, handler):
    service = templates["Service"]
    _, function = function_for_handler(service, handler)
    return policy_statements(service, role_of(function))


def _prefixes(resources_: list[str], bucket: str) -> set[str]:
    return {
        resource.removeprefix(f"{bucket}/").removesuffix("*")
        for resource in resources_
        if resource.startswith(f"{bucket}/")
    }


@pytest.mark.parametrize("handler", HANDLERS)
def test_no_function_can_write_or_delete_a_model(templates, handler):
    statements = _function_statements(templates, handler)
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy"):
        touched = [
            resource for resource in allowed_resources(statements, action) if MODELS in resource or resource == "*"
        ]
        assert touched == [], f"{handler} may {action} on {touched}"


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_reads_models_only_under_the_model_prefix(templates, handler):
    readable = allowed_resources(_function_statements(templates, handler), "s3:GetObject")
    assert f"{MODELS}/{contract.MODEL_PREFIX}*" in readable
    assert _prefixes(readable, MODELS) == {contract.MODEL_PREFIX}


@pytest.mark.parametrize("handler", HANDLERS)
def test_function_reads_writes_and_deletes_only_its_own_data_prefixes(templates, handler):
    statements = _function_statements(templates, handler)
    assert _prefixes(allowed_resources(statements, "s3:GetObject"), DATA) == DATA_ACCESS[handler]["read"]
    assert _prefixes(allowed_resources(statements, "s3:PutObject"), DATA) == DATA_ACCESS[handler]["write"]
    assert _prefixes(allowed_resources(statements, "s3:DeleteObject"), DATA) == DATA_ACCESS[handler]["delete"]
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert not {DATA, "*"} & set(allowed_resources(statements, action)), f"{handler} may {action} bucket-wide"


# the account's default bus in the stack's region, as cdk-nag flattens the ARN
DEFAULT_EVENT_BUS = "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default"
# DESIGN.md, Events: the two workers put an event when their work finishes; the API puts none
PUTS_EVENTS = {settings.JOBS_FUNCTION.handler, settings.UPLOADS_FUNCTION.handler}


def _actions(statements, prefix: str) -> set[str]:
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith(prefix)
    }


@pytest.mark.parametrize("handler", HANDLERS)
def test_only_the_workers_may_put_events_and_only_on_the_default_bus(templates, handler):
    statements = _function_statements(templates, handler)

    expected = [DEFAULT_EVENT_BUS] if handler in PUTS_EVENTS else []
    assert allowed_resources(statements, "events:PutEvents") == expected
    assert _actions(statements, "events:") == ({"events:PutEvents"} if handler in PUTS_EVENTS else set())


def test_no_role_of_the_service_may_put_events_on_any_bus(templates):
    service = templates["Service"]
    for policy in resources(service, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert set(allowed_resources(statements, "events:PutEvents")) <= {DEFAULT_EVENT_BUS}


def test_every_function_has_a_role_of_its_own(templates):
    service = templates["Service"]
    roles = {role_of(function_for_handler(service, handler)[1]) for handler in HANDLERS}
    assert len(roles) == len(HANDLERS)


def test_training_role_publishes_models_and_reads_only_training_data_of_the_data_bucket(templates):
    training = templates["Training"]
    (job_definition,) = resources(training, "AWS::Batch::JobDefinition").values()
    job_role = job_definition["Properties"]["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0]
    statements = policy_statements(training, job_role)
    every_resource = allowed_resources(statements)
    assert every_resource, "the job role has no permissions at all"
    assert "*" not in every_resource
    assert _prefixes(allowed_resources(statements, "s3:PutObject"), MODELS) == {contract.MODEL_PREFIX}
    # a team's labelled datasets: read under training-data/, nothing else of the data bucket
    assert _prefixes(allowed_resources(statements, "s3:GetObject"), DATA) == {contract.TRAINING_DATA_PREFIX}
    data_objects = [resource for resource in every_resource if resource.startswith(f"{DATA}/")]
    assert data_objects and all(resource == f"{DATA}/{contract.TRAINING_DATA_PREFIX}*" for resource in data_objects)
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not [resource for resource in allowed_resources(statements, action) if DATA in resource]
