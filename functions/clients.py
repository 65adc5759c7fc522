"""AWS clients, one of each per container, created on first use (never at import).

botocore directly rather than boto3: the same clients without importing s3transfer, which
the functions never use and which costs a cold start tens of milliseconds. botocore honours
``AWS_ENDPOINT_URL`` (moto, the local cloud) like boto3 does.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=16,
)


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def s3_client():
    return _session().create_client("s3", config=_CONFIG)


@cache
def sqs_client():
    return _session().create_client("sqs", config=_CONFIG)
