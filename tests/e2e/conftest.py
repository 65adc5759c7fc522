"""One local cloud (``python -m infra.local`` in a child process) for the whole e2e session, on
loopback ports chosen for this run, serving the tiny bundle of ``tiny_bundle_root``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cloud_user import (
    API_KEY,
    CREDENTIALS,
    MODEL_REFRESH_SECONDS,
    RETRY_AFTER_SECONDS,
    SECOND_API_KEY,
    UPLOAD_CHUNK_BYTES,
    LocalCloudUser,
)

from infra.local.process import LocalCloudProcess


@pytest.fixture(scope="session")
def local_cloud(tiny_bundle_root: Path, tmp_path_factory) -> LocalCloudUser:
    process = LocalCloudProcess(
        api_keys=[API_KEY, SECOND_API_KEY],
        models=tiny_bundle_root,
        state_dir=tmp_path_factory.mktemp("local-cloud"),
        extra_args=["--retry-after", str(RETRY_AFTER_SECONDS)],
        environment={
            **CREDENTIALS,
            "MODEL_REFRESH_SECONDS": str(MODEL_REFRESH_SECONDS),
            "UPLOAD_CHUNK_BYTES": str(UPLOAD_CHUNK_BYTES),
        },
    )
    process.start(timeout=180)
    yield LocalCloudUser(process)
    process.stop()
