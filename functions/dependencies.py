"""What the handlers share, each built once per container on first use.

The handlers call these factories; the logic they call receives the built objects. Tests
change the environment, then call `reset` so the next call builds from the new one.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from functions.clients import s3_client, sqs_client
from functions.model_store import ModelSource, ModelStore
from functions.object_store import Bucket, Queue
from functions.sentiment_model import function_vcpus
from functions.settings import SettingsError, get_settings
from functions.upload_pipeline import UploadProcessor

MODEL_CACHE_FOLDER = "model-store"


@cache
def model_store() -> ModelStore:
    settings = get_settings()
    return ModelStore(
        ModelSource(Bucket(s3_client(), settings.model_bucket), settings.model_prefix),
        # Lambda's only writable place is /tmp (tempfile's default there)
        Path(tempfile.gettempdir()) / MODEL_CACHE_FOLDER,
        refresh_seconds=settings.model_refresh_seconds,
        threads=function_vcpus(),
    )


@cache
def data_bucket() -> Bucket:
    return Bucket(s3_client(), get_settings().data_bucket)


def _queue(url: str | None, variable: str) -> Queue:
    if not url:
        raise SettingsError(f"the environment variable {variable} is not set")
    return Queue(sqs_client(), url)


@cache
def jobs_queue() -> Queue:
    return _queue(get_settings().jobs_queue_url, "JOBS_QUEUE_URL")


@cache
def uploads_queue() -> Queue:
    return _queue(get_settings().uploads_queue_url, "UPLOADS_QUEUE_URL")


@cache
def upload_processor() -> UploadProcessor:
    return UploadProcessor(
        data_bucket(),
        current_model=model_store().current,
        chunk_queue=uploads_queue,
        chunk_bytes=get_settings().upload_chunk_bytes,
    )


def reset() -> None:
    """Forgets every object built so far (and the settings they were built from)."""
    factories = (get_settings, s3_client, sqs_client, model_store, data_bucket, jobs_queue, uploads_queue, upload_processor)
    for factory in factories:
        factory.cache_clear()
