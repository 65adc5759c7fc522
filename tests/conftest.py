"""Shared fixtures: generated data, one tiny trained bundle, fake AWS credentials."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_imdb import TINY_TRAIN_ARGS, review_files, write_folder, write_tarball  # noqa: E402


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Fake credentials and region, so no test can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(scope="session")
def synthetic_files() -> dict[str, str]:
    return review_files(per_folder=60, seed=0)


@pytest.fixture(scope="session")
def imdb_tarball(tmp_path_factory, synthetic_files) -> Path:
    return write_tarball(tmp_path_factory.mktemp("data") / "aclImdb_v1.tar.gz", synthetic_files)


@pytest.fixture(scope="session")
def imdb_folder(tmp_path_factory, synthetic_files) -> Path:
    return write_folder(tmp_path_factory.mktemp("folder"), synthetic_files)


@pytest.fixture(scope="session")
def tiny_bundle_root(tmp_path_factory, imdb_tarball) -> Path:
    """A models folder (``<root>/<version>/…`` and ``<root>/current.json``) trained once per session."""
    from model_build.train import main

    root = tmp_path_factory.mktemp("models")
    assert main(["--data", str(imdb_tarball), "--out", str(root), *TINY_TRAIN_ARGS]) == 0
    return root


@pytest.fixture
def models_copy(tmp_path, tiny_bundle_root) -> Path:
    """A private copy of the tiny bundle folder that a test may change."""
    return Path(shutil.copytree(tiny_bundle_root, tmp_path / "models"))


# -- serving (functions/): a moto cloud, the tiny bundle published in it, Lambda plumbing --------


@pytest.fixture
def lambda_context():
    from serving_harness import FakeLambdaContext

    return FakeLambdaContext()


@pytest.fixture
def cloud(monkeypatch, tmp_path):
    """The service's buckets and queues in moto, named for this test (`infra.local.resources`, as
    the local cloud has them: uploads notify the uploads queue), and the functions' environment
    pointing at them; every object the functions build is rebuilt for the test."""
    import tempfile

    import boto3
    from moto import mock_aws
    from serving_harness import Cloud

    from functions import dependencies

    with mock_aws():
        cloud = Cloud.provision(boto3.client("s3"), boto3.client("sqs"), boto3.client("events"))
        for name, value in {**cloud.function_environment(), "MODEL_REFRESH_SECONDS": "60"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        dependencies.reset()
        yield cloud
        dependencies.reset()


@pytest.fixture
def served(cloud, tiny_bundle_root):
    """The cloud with the tiny bundle published under ``models/``; its version on ``cloud.version``."""
    cloud.publish_folder(tiny_bundle_root)
    return cloud
