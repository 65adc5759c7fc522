"""What the handlers share, each built once per container on first use.

The handlers call these factories; the logic they call receives the built objects. Tests
change the environment, then call `reset` so the next call builds from the new one.
"""

from __future__ import annotations

import os
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from functions.clients import events_client, s3_client, sqs_client
from functions.events import EventBus
from functions.model_store import ModelSource, ModelStore
from functions.object_store import Bucket, Queue
from functions.observability import logger
from functions.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from functions.upload_pipeline import UploadProcessor

MODEL_CACHE_FOLDER = "model-store"
# Lambda sets it in every execution environment ("on-demand", "provisioned-concurrency",
# "snap-start"); nothing else here does.
LAMBDA_INIT_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"


@cache
def model_store() -> ModelStore:
    settings = get_settings()
    return ModelStore(
        ModelSource(Bucket(s3_client(), settings.model_bucket), settings.model_prefix),
        # Lambda's only writable place is /tmp (tempfile's default there)
        Path(tempfile.gettempdir()) / MODEL_CACHE_FOLDER,
        refresh_seconds=settings.model_refresh_seconds,
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
def event_bus() -> EventBus:
    # the client is created on the first put, where a failure to create it is the event's alone
    return EventBus(events_client)


@cache
def upload_processor() -> UploadProcessor:
    # only functions.uploads processes files: the other handlers do not import the pipeline
    from functions.upload_pipeline import UploadProcessor

    return UploadProcessor(
        data_bucket(),
        models=model_store(),
        chunk_queue=uploads_queue,
        chunk_bytes=get_settings().upload_chunk_bytes,
        events=event_bus(),
    )


def preload_model_during_init() -> threading.Thread | None:
    """In a Lambda execution environment, starts loading the published model in a background
    thread while the handler module finishes importing. Fetching the bundle from S3 then
    overlaps the imports instead of delaying the first request, and a provisioned or
    SnapStart environment is ready before its first request. Elsewhere (tests, scripts, and
    the local cloud unless it sets the variable as Lambda does) it does nothing and the first
    use loads the model."""
    if not os.environ.get(LAMBDA_INIT_VARIABLE):
        return None
    try:
        # built here, before the thread starts: a request must find this store, not build a
        # second one that would download the same bundle into the same folder
        store = model_store()
    except SettingsError as error:  # the first request answers with it
        logger.warning("could not load the model during init", extra={"error": str(error)})
        return None
    thread = threading.Thread(target=_preload_model, args=(store,), name="model-preload", daemon=True)
    thread.start()
    return thread


def _preload_model(store: ModelStore) -> None:
    try:
        store.preload()  # holds the store's lock: a request waits for it instead of loading too
    except Exception as error:  # noqa: BLE001 - the first request meets it again and answers it
        logger.warning("could not load the model during init", extra={"error": str(error)})


def reset() -> None:
    """Forgets every object built so far (and the settings they were built from)."""
    factories = (
        get_settings,
        s3_client,
        sqs_client,
        events_client,
        model_store,
        data_bucket,
        jobs_queue,
        uploads_queue,
        event_bus,
        upload_processor,
    )
    for factory in factories:
        factory.cache_clear()
