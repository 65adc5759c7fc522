"""Every environment variable of the functions, read in one place into one typed object.

The names are DESIGN.md's; the defaults come from `functions.contract`, which the CDK app and
the local cloud import too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from functions import contract

# A file above this size is split into chunks classified in parallel. The slowest content per
# byte is empty lines (16 million in a chunk); `make bench` prints their rate, and the chunk is
# sized so that even on a CPU several times slower than that figure's a chunk ends well inside
# the function's 300 s timeout.
DEFAULT_UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024
MIN_UPLOAD_CHUNK_BYTES = 1024
# deliveries of one message before SQS moves it to its dead-letter queue; the deployment sets it
# from the queue's redrive policy, so the consumer knows which delivery is the last
DEFAULT_MAX_RECEIVE_COUNT = 3


class SettingsError(Exception):
    """An environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    model_bucket: str
    data_bucket: str
    model_prefix: str = contract.MODEL_PREFIX
    jobs_queue_url: str | None = None
    uploads_queue_url: str | None = None
    model_refresh_seconds: float = contract.MODEL_REFRESH_SECONDS
    # not in DESIGN.md's table: a tuning knob (tests force small chunks with it)
    upload_chunk_bytes: int = DEFAULT_UPLOAD_CHUNK_BYTES
    # not in DESIGN.md's table: set by the deployment from the consumer queue's redrive policy
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SettingsError(f"the environment variable {name} is not set")
            return value

        def number(name: str, default: float, minimum: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, not {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum}")
            return value

        prefix = environ.get("MODEL_PREFIX", "").strip().strip("/")
        return cls(
            model_bucket=required("MODEL_BUCKET"),
            data_bucket=required("DATA_BUCKET"),
            model_prefix=f"{prefix}/" if prefix else contract.MODEL_PREFIX,
            jobs_queue_url=environ.get("JOBS_QUEUE_URL", "").strip() or None,
            uploads_queue_url=environ.get("UPLOADS_QUEUE_URL", "").strip() or None,
            model_refresh_seconds=number("MODEL_REFRESH_SECONDS", contract.MODEL_REFRESH_SECONDS, 0),
            upload_chunk_bytes=int(number("UPLOAD_CHUNK_BYTES", DEFAULT_UPLOAD_CHUNK_BYTES, MIN_UPLOAD_CHUNK_BYTES)),
            max_receive_count=int(number("MAX_RECEIVE_COUNT", DEFAULT_MAX_RECEIVE_COUNT, 1)),
        )


@cache
def get_settings() -> Settings:
    """The settings of this container, read and validated on first use."""
    return Settings.from_environ(os.environ)
