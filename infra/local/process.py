"""``python -m infra.local`` as a child process: what the demo, the load benchmark and the e2e tests start."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"
POLL_INTERVAL_SECONDS = 0.1

T = TypeVar("T")


def poll_until(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Calls ``condition`` until it returns something other than None or False; raises
    `TimeoutError` (naming ``what``) when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_SECONDS)


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on loopback, else a port the system picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the servers bind: a port whose old connections linger in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError("no free port on loopback")


def _stop_with_parent() -> None:
    """Linux: asks the kernel to SIGTERM this child when its parent dies, even by SIGKILL, so a
    killed test run or benchmark leaves no local cloud behind."""
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG
    ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, signal.SIGTERM)


class LocalCloudError(Exception):
    """The local cloud did not come up, or did not stop cleanly."""


class LocalCloudProcess:
    def __init__(
        self,
        *,
        api_keys: Sequence[str],
        models: Path,
        state_dir: Path,
        api_port: int | None = None,
        aws_port: int | None = None,
        extra_args: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.api_keys = list(api_keys)
        self.api_port = api_port or free_port()
        self.aws_port = aws_port or free_port()
        while self.aws_port == self.api_port:  # two probes may be handed the same free port
            self.aws_port = free_port()
        self.state_dir = state_dir
        self.output_path = state_dir / "local-cloud.out"
        self.command = [
            sys.executable, "-m", "infra.local",
            "--api-port", str(self.api_port), "--aws-port", str(self.aws_port),
            "--models", str(models), "--state-dir", str(state_dir),
            *(f"--api-key={key}" for key in self.api_keys),  # "=": a key may begin with "-"
            *extra_args,
        ]  # fmt: skip
        self._environment = {**os.environ, **(environment or {})}
        self._process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    def start(self, timeout: float = 600) -> None:
        """Starts it and returns once ``GET /health`` answers 200 (a first start may train a model)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_path, "wb") as output:
            self._process = subprocess.Popen(
                self.command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self._environment,
                preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
            )
        try:
            poll_until(self._healthy, timeout=timeout, what="GET /health to answer 200")
        except TimeoutError as error:
            self.stop()
            raise LocalCloudError(f"{error}:\n{self.output()}") from None

    def _healthy(self) -> bool:
        if self._process.poll() is not None:
            raise LocalCloudError(f"the local cloud exited with {self._process.returncode}:\n{self.output()}")
        request = urllib.request.Request(f"{self.api_url}/health", headers={"x-api-key": self.api_keys[0]})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, as a service manager stops it; raises unless it stops cleanly within ``timeout``."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise LocalCloudError(f"the local cloud did not stop within {timeout:.0f} s of SIGTERM") from None
        if code != 0:
            raise LocalCloudError(f"the local cloud stopped with {code}:\n{self.output()}")

    def __enter__(self) -> LocalCloudProcess:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
