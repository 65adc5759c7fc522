"""Each role may touch exactly its part of the buckets: no function can write a model, training
cannot see the data, each worker writes only its own prefix."""

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
