"""AWS clients, one of each per container, created on first use (never at import).

botocore directly rather than boto3: the same clients without importing s3transfer, which
the functions never use and which costs a cold start tens of milliseconds. botocore honours
``AWS_ENDPOINT_URL`` (moto, the local cloud) like boto3 does.

The session's data loader is told which services the functions use. botocore's own lists every
service folder it ships (about 900 directory reads) to check a name before loading its model,
a large share of what creating the S3 client costs a cold start.
"""

from __future__ import annotations

import os
from functools import cache

import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

SERVICES = ("events", "s3", "sqs")

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=16,
)
# An event only announces work whose result is in S3 already: a bus that does not answer must not
# hold the job's invocation for long (at most about 3 s of backoff, then the failure is counted).
_EVENTS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


class _ServingDataLoader(Loader):
    """botocore's data loader, with `SERVICES` as the services there are."""

    def list_available_services(self, type_name: str) -> list[str]:
        return list(SERVICES)


@cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    # what botocore.loaders.create_loader does with AWS_DATA_PATH, with the class above
    data_path = session.get_config_variable("data_path")
    extra_paths = (
        [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep)] if data_path else None
    )
    session.register_component("data_loader", _ServingDataLoader(extra_search_paths=extra_paths))
    return session


@cache
def s3_client():
    return _session().create_client("s3", config=_CONFIG)


@cache
def sqs_client():
    return _session().create_client("sqs", config=_CONFIG)


@cache
def events_client():
    return _session().create_client("events", config=_EVENTS_CONFIG)
