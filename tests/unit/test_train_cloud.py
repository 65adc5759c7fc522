"""make train-cloud: the Batch job it submits, from the training stack's outputs (moto CloudFormation)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra.train_cloud import SubmitError, TrainingRequest, main, stack_outputs, submit

pytestmark = pytest.mark.unit

OUTPUTS = {
    "JobQueueArn": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
    "JobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/d:1",
}
MODELS = "s3://models-bucket/models"


def deploy_training_stack(cloudformation, stage: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=f"Sentiment-{stage}-Training", TemplateBody=json.dumps(template))


def test_a_labelled_dataset_becomes_the_containers_training_command():
    request = TrainingRequest(
        "bow",
        "s3://data/training-data/t.csv",
        "s3://data/training-data/t-test.csv",
        None,
        "category",
        ("--epochs", "8"),
    )
    assert request.command("s3://models-bucket/models") == [
        "--arch", "bow", "--data", "s3://data/training-data/t.csv", "--test-data", "s3://data/training-data/t-test.csv",
        "--label-column", "category", "--device", "cuda", "--out", "s3://models-bucket/models", "--no-progress",
        "--epochs", "8",
    ]  # fmt: skip
    assert request.job_name(0).startswith("sentiment-bow-custom-19700101-")
    assert TrainingRequest().command("s3://m/models")[:2] == ["--arch", "bow"]
    assert "--data" not in TrainingRequest().command("s3://m/models")


def test_the_job_is_submitted_to_the_stacks_queue_with_the_command():
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        deploy_training_stack(cloudformation, "dev", OUTPUTS)
        batch = boto3.client("batch", region_name="us-east-1")
        request = TrainingRequest("bow", "s3://data/training-data/t.jsonl")
        with Stubber(batch) as stub:
            definition = {"containerProperties": {"command": ["--arch", "Ref::arch", "--out", MODELS, "--no-progress"]}}
            stub.add_response(
                "describe_job_definitions",
                {"jobDefinitions": [{"jobDefinitionName": "d", "jobDefinitionArn": OUTPUTS["JobDefinitionArn"],
                                     "revision": 1, "type": "container", **definition}]},
                {"jobDefinitions": [OUTPUTS["JobDefinitionArn"]]},
            )  # fmt: skip
            stub.add_response(
                "submit_job",
                {"jobName": "n", "jobId": "job-1"},
                {
                    "jobName": request.job_name(),
                    "jobQueue": OUTPUTS["JobQueueArn"],
                    "jobDefinition": OUTPUTS["JobDefinitionArn"],
                    "containerOverrides": {"command": request.command(MODELS)},
                },
            )
            assert submit(batch, cloudformation, "dev", request) == {"jobName": "n", "jobId": "job-1"}
            stub.assert_no_pending_responses()


def test_a_stage_that_is_not_deployed_is_one_clear_error(capsys):
    with mock_aws():
        with pytest.raises(SubmitError, match="cannot read the stack Sentiment-prod-Training"):
            stack_outputs(boto3.client("cloudformation", region_name="us-east-1"), "prod")
        assert main(["--stage", "prod", "--data", "s3://d/training-data/t.csv"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: cannot read the stack")


def test_an_old_stack_without_the_outputs_is_named():
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        deploy_training_stack(cloudformation, "dev", {"JobQueueArn": OUTPUTS["JobQueueArn"]})
        with pytest.raises(SubmitError, match="lacks the outputs JobDefinitionArn"):
            stack_outputs(cloudformation, "dev")
