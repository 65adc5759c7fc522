"""The real Lambda package: `npx cdk synth` builds it offline through local bundling, and a
bare CPython 3.12 runs the handlers from it against a bundle in moto.

Lambda runs arm64 by default, whose wheels cannot be imported on this x86_64 machine; the
probe runs the x86_64 build of the same package (same sources, same requirements).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
from pathlib import Path

import boto3
import pytest
from app_synthesis import ROOT
from moto.server import ThreadedMotoServer
from template_queries import function_for_handler

from infra import settings
from infra.local.harness import Cloud
from infra.local.lambda_events import api_event
from infra.serving_lock import RUNTIME_PROVIDED, canonical
from infra.serving_package import (
    NEVER_IMPORTED_PATHS,
    PACKAGE_BUDGET_BYTES,
    ServingPackage,
    find_interpreter,
    unzipped_size,
)

pytestmark = [
    pytest.mark.infra,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT / "functions" / "api.py").is_file(),
        reason="functions/ is not written yet: there are no handlers to package",
    ),
]

PROBE = Path(__file__).with_name("lambda_probe.py")


def _python_312() -> Path:
    interpreter = find_interpreter("3.12")
    if interpreter is None:
        pytest.fail("no working CPython 3.12 (pyenv's, or python3.12 on PATH) to run the package with")
    return interpreter


@pytest.fixture(scope="module")
def cli_package(tmp_path_factory) -> Path:
    """`npx cdk synth` with the pinned CLI, offline and without credentials; the Lambda package it bundled."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    assert cdk.exists(), "the pinned CDK CLI is not installed: `make test` runs npm ci first"
    out = tmp_path_factory.mktemp("cli") / "cdk.out"
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    environment.update(
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = subprocess.run(
        [str(cdk), "synth", "--no-notices", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = json.loads((out / "Sentiment-dev-Service.assets.json").read_text())
    (code,) = [asset for asset in manifest["files"].values() if asset["displayName"].endswith("Function/Code")]
    return out / code["source"]["path"]


def test_cli_package_is_within_its_size_budget(cli_package):
    size = unzipped_size(cli_package)
    print(f"\nunzipped arm64 Lambda package: {size / 2**20:.1f} MiB ({size} bytes) in {cli_package.name}")
    assert size <= PACKAGE_BUDGET_BYTES


def test_cli_package_holds_the_serving_code_and_nothing_of_training_or_infra(cli_package):
    for name in ("functions/api.py", "functions/jobs.py", "functions/uploads.py", "model_build/bundle.py"):
        assert (cli_package / name).is_file(), name
    for name in ("torch", "model_build/train.py", "infra", "tests"):
        assert not (cli_package / name).exists(), name


def _distributions(package: Path) -> dict[str, str]:
    """name -> version of every distribution installed in the package."""
    pairs = (info.name.removesuffix(".dist-info").rsplit("-", 1) for info in package.glob("*.dist-info"))
    return {canonical(name): version for name, version in pairs}


def test_cli_package_leaves_out_what_the_runtime_provides(cli_package):
    assert set(_distributions(cli_package)) & set(RUNTIME_PROVIDED) == set()
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py"):
        assert not (cli_package / name).exists(), name


def test_cli_package_leaves_out_what_serving_never_imports(cli_package):
    assert [
        str(path.relative_to(cli_package)) for pattern in NEVER_IMPORTED_PATHS for path in cli_package.glob(pattern)
    ] == []


def test_cli_package_holds_exactly_the_locked_wheels(cli_package):
    lock = ServingPackage(python_version="3.12", architecture="arm64").lock
    assert _distributions(cli_package) == {package.name: package.version for package in lock.packages}


def test_cli_package_ships_bytecode_for_the_runtime_python(cli_package):
    """Lambda's code folder is read-only: without .pyc every cold start compiles every module."""
    for module in ("functions/api.py", "model_build/preprocess.py", "numpy/__init__.py", "onnxruntime/__init__.py"):
        source = cli_package / module
        assert (source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc").is_file(), module


def test_cli_package_is_built_for_arm64(cli_package):
    (extension,) = (cli_package / "onnxruntime" / "capi").glob("onnxruntime_pybind11_state*.so")
    assert "aarch64" in extension.name and "cpython-312" in extension.name


@pytest.fixture(scope="module")
def x86_package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("package")
    ServingPackage(python_version="3.12", architecture="x86_64").build(folder)
    print(f"\nunzipped x86_64 Lambda package: {unzipped_size(folder) / 2**20:.1f} MiB")
    return folder


@pytest.fixture(scope="module")
def runtime_sdk(tmp_path_factory) -> Path:
    """What the Lambda runtime adds to the path and the package leaves out: the AWS SDK and the
    libraries it depends on, linked from this environment (pure Python, so any Python runs them)."""
    folder = tmp_path_factory.mktemp("runtime-sdk")
    for name in RUNTIME_PROVIDED:
        distribution = importlib.metadata.distribution(name)
        top_levels = {file.parts[0] for file in distribution.files if not file.parts[0].endswith(".dist-info")}
        for top_level in top_levels - {"..", "__pycache__"}:
            (folder / top_level).symlink_to(distribution.locate_file(top_level))
    return folder


@pytest.fixture(scope="module")
def moto_endpoint():
    with socket.socket() as free_port:
        free_port.bind(("127.0.0.1", 0))
        port = free_port.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def published_cloud(moto_endpoint, tiny_bundle_root) -> Cloud:
    """The service's buckets and queues on a moto server (the probe is another process), the tiny bundle published."""
    s3, sqs, events = (
        boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for service in ("s3", "sqs", "events")
    )
    cloud = Cloud.provision(s3, sqs, events)
    cloud.publish_folder(tiny_bundle_root)
    return cloud


@pytest.fixture(scope="module")
def probe(tmp_path_factory, templates, x86_package, runtime_sdk, moto_endpoint, published_cloud) -> dict:
    """The API function run from the package by CPython 3.12, with the environment CDK gives it."""
    _, function = function_for_handler(templates["Service"], settings.API_FUNCTION.handler)
    deployed = {  # what the stack resolves each reference to, here
        "MODEL_BUCKET": published_cloud.model_bucket,
        "DATA_BUCKET": published_cloud.data_bucket,
        "JOBS_QUEUE_URL": published_cloud.jobs_queue_url,
    }
    environment = {
        name: deployed[name] if isinstance(value, dict) else value
        for name, value in function["Properties"]["Environment"]["Variables"].items()
    }
    environment.update(
        PATH=os.environ["PATH"],
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",  # as Lambda sets it: the model loads during init
    )
    output = tmp_path_factory.mktemp("probe") / "result.json"
    event = api_event("POST", "/classify", {"texts": ["a wonderful, moving film", "boring and awful"]})
    result = subprocess.run(
        [str(_python_312()), "-I", "-S", str(PROBE), str(x86_package), str(runtime_sdk), str(output)],
        input=json.dumps(event),
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(output.read_text())


def test_handlers_and_their_dependencies_import_from_the_package_alone(probe, x86_package):
    for module, file in probe["files"].items():
        assert Path(file).resolve().is_relative_to(x86_package.resolve()), f"{module} came from {file}"


def test_every_module_the_api_function_loaded_came_from_the_package_the_runtime_or_python(
    probe, x86_package, runtime_sdk
):
    allowed = (x86_package, runtime_sdk, Path(probe["stdlib"]))
    elsewhere = {
        name: file for name, file in probe["loaded"].items() if not any(Path(file).is_relative_to(f) for f in allowed)
    }
    assert elsewhere == {}


def test_the_api_handler_classifies_with_the_published_bundle(probe, published_cloud):
    response = probe["response"]
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model_version"] == published_cloud.version
    assert [prediction["label"] for prediction in body["predictions"]] == ["positive", "negative"]
