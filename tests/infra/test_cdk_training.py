"""The training stack: a g5/g6 Batch environment that scales to zero and a one-GPU job built
from model_build/Dockerfile that publishes to the models bucket."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from template_queries import resources

from infra import settings
from infra.serving_package import REPO_ROOT
from infra.training import IMAGE_FUNCTIONS_MODULES
from model_build.data import OFFICIAL_URL

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def training(templates):
    return templates["Training"]


@pytest.fixture(scope="module")
def container(training) -> dict:
    (job_definition,) = resources(training, "AWS::Batch::JobDefinition").values()
    return job_definition["Properties"]["ContainerProperties"]


@pytest.fixture(scope="module")
def image_asset(assembly) -> tuple[dict, Path]:
    """The training image's entry in the assets manifest, and its staged build context."""
    manifest = json.loads(Path(assembly.directory, "Sentiment-dev-Training.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    return image, Path(assembly.directory, image["source"]["directory"])


def test_compute_environment_uses_gpu_families_and_scales_to_zero(training):
    (environment,) = resources(training, "AWS::Batch::ComputeEnvironment").values()
    compute = environment["Properties"]["ComputeResources"]
    assert environment["Properties"]["Type"] == "managed"
    assert compute["Type"] == "EC2"
    assert sorted(compute["InstanceTypes"]) == ["g5", "g6"]
    assert compute["MinvCpus"] == 0
    assert compute["MaxvCpus"] == settings.TRAINING.default_max_vcpus
    assert compute["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]


def test_job_queue_feeds_the_gpu_environment_and_cancels_jobs_stuck_runnable(training):
    (queue,) = resources(training, "AWS::Batch::JobQueue").values()
    (environment_id,) = resources(training, "AWS::Batch::ComputeEnvironment")
    (order,) = queue["Properties"]["ComputeEnvironmentOrder"]
    assert order["ComputeEnvironment"]["Fn::GetAtt"][0] == environment_id
    actions = queue["Properties"]["JobStateTimeLimitActions"]
    assert {action["Action"] for action in actions} == {"CANCEL"}
    assert "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" in {action["Reason"] for action in actions}


def test_job_asks_for_one_gpu(container):
    requirements = {item["Type"]: item["Value"] for item in container["ResourceRequirements"]}
    assert requirements == {
        "GPU": "1",
        "VCPU": str(settings.TRAINING.job_vcpus),
        "MEMORY": str(settings.TRAINING.job_memory_mib),
    }


def test_job_trains_on_cuda_and_publishes_to_the_models_prefix(training, container):
    command = container["Command"]
    assert command[command.index("--arch") + 1] == "Ref::arch"
    assert command[command.index("--device") + 1] == "cuda"
    output = command[command.index("--out") + 1]
    assert output == {
        "Fn::Join": ["", ["s3://", {"Fn::ImportValue": "Sentiment-dev-Storage-ModelsBucketName"}, "/models"]]
    }
    (job_definition,) = resources(training, "AWS::Batch::JobDefinition").values()
    assert command[command.index("--data") + 1] == "Ref::data"
    assert job_definition["Properties"]["Parameters"] == {
        "arch": settings.TRAINING.default_architecture,
        "data": OFFICIAL_URL,
    }


def test_the_job_reads_labelled_datasets_under_training_data_only(training):
    statements = [
        statement
        for policy in resources(training, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    reads = [json.dumps(s["Resource"]) for s in statements if s["Action"] == "s3:GetObject"]
    assert any("DataBucketArn" in resource and "/training-data/*" in resource for resource in reads)
    assert not any("DataBucketArn" in resource and "/training-data/*" not in resource for resource in reads)


def test_a_failing_trainer_is_not_retried_on_another_gpu_hour(training):
    (job_definition,) = resources(training, "AWS::Batch::JobDefinition").values()
    strategy = job_definition["Properties"]["RetryStrategy"]
    assert strategy["Attempts"] == settings.TRAINING.attempts
    assert strategy["EvaluateOnExit"] == [{"Action": "EXIT", "OnExitCode": "*"}]


def test_job_image_is_built_from_the_training_dockerfile_for_x86_64(container, image_asset):
    image, _ = image_asset
    assert image["source"]["dockerFile"] == "model_build/Dockerfile"
    assert image["source"]["platform"] == "linux/amd64"
    (destination,) = image["destinations"].values()
    assert container["Image"]["Fn::Sub"].endswith(f":{destination['imageTag']}")


def test_image_build_context_holds_only_what_the_dockerfile_copies(image_asset):
    _, context = image_asset
    top_level = {path.name for path in context.iterdir()}
    assert {"pyproject.toml", "model_build"} <= top_level
    assert (context / "model_build" / "Dockerfile").is_file()
    assert top_level <= {"pyproject.toml", "README.md", "model_build", "functions"}
    assert {path.name for path in (context / "functions").iterdir()} == set(IMAGE_FUNCTIONS_MODULES)
    assert not list(context.rglob("__pycache__"))


def test_the_image_holds_every_module_of_functions_that_training_imports():
    code = "import sys, model_build.train; print(sorted(m for m in sys.modules if m.startswith('functions.')))"
    imported = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                         cwd=REPO_ROOT).stdout.replace("'", '"'))  # fmt: skip
    shipped = {f"functions.{name.removesuffix('.py')}" for name in IMAGE_FUNCTIONS_MODULES} - {"functions.__init__"}
    assert set(imported) <= shipped
    dockerfile = (REPO_ROOT / "model_build" / "Dockerfile").read_text()
    copied = re.search(r"^COPY (functions/\S+(?: functions/\S+)*) \./functions/$", dockerfile, re.MULTILINE)
    assert copied and {path.removeprefix("functions/") for path in copied.group(1).split()} == set(
        IMAGE_FUNCTIONS_MODULES
    )


def test_instances_take_no_inbound_traffic_and_need_no_nat_gateway(training):
    (group,) = resources(training, "AWS::EC2::SecurityGroup").values()
    assert "SecurityGroupIngress" not in group["Properties"]
    assert resources(training, "AWS::EC2::NatGateway") == {}
    assert len(resources(training, "AWS::EC2::FlowLog")) == 1
