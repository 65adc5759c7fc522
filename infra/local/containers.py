"""Lambda functions as pools of warm containers: processes of their own, one invocation at a time each.

Each process is one container: it imports the handler once, keeps its module-level state (the
model store, the clients) across invocations, has a private temporary folder (Lambda's ``/tmp``)
and appends its stdout and stderr (the JSON logs, the EMF metrics) to the function's log file,
as CloudWatch Logs would hold them. Containers start when an invocation finds none idle, up to
the function's concurrency.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import APP_NAME
from infra.local.resources import ACCOUNT_ID, REGION
from infra.settings import FunctionSettings


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # "api", "jobs", "uploads"
    settings: FunctionSettings
    concurrency: int

    @property
    def function_name(self) -> str:
        return f"{APP_NAME}-local-{self.name}"


@dataclass(frozen=True)
class LambdaContext:
    """The context object Lambda passes, with the attributes Powertools reads."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float  # time.time() at which the function times out
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[{self.function_version}]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


class FunctionPool:
    """The containers of one function; `invoke` runs one event in an idle (or a new) container."""

    def __init__(
        self, config: FunctionConfig, environment: Mapping[str, str], logs_dir: Path, scratch_dir: Path
    ) -> None:
        self.config = config
        logs_dir.mkdir(parents=True, exist_ok=True)
        scratch_dir.mkdir(parents=True, exist_ok=True)
        self._executor = ProcessPoolExecutor(
            max_workers=config.concurrency,
            # a fresh interpreter, like a container: no copy of this process's threads and servers
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_container,
            initargs=(dict(environment), str(logs_dir / f"{config.name}.log"), str(scratch_dir)),
        )

    def invoke(self, event: dict[str, Any]) -> Future:
        """The future of the handler's return value; it raises what the handler raised."""
        return self._executor.submit(
            _invoke,
            self.config.settings.handler,
            event,
            self.config.function_name,
            self.config.settings.memory_mb,
            self.config.settings.timeout_seconds,
        )

    def close(self) -> None:
        """Lets running invocations finish; invocations not started yet are cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)


# -- inside a container ----------------------------------------------------------------------


def _start_container(environment: dict[str, str], log_path: str, scratch_dir: str) -> None:
    # Ctrl-C reaches the whole process group; the local cloud stops its containers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    tempfile.tempdir = tempfile.mkdtemp(prefix="container-", dir=scratch_dir)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # one line at a time, so the log file reads like a log stream while the container lives
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def _invoke(handler_path: str, event: dict[str, Any], function_name: str, memory_mb: int, timeout_seconds: int) -> Any:
    module_name, attribute = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    context = LambdaContext(
        function_name=function_name,
        memory_limit_in_mb=memory_mb,
        aws_request_id=str(uuid.uuid4()),
        deadline=time.time() + timeout_seconds,
    )
    return handler(event, context)
