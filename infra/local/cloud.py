"""The whole local topology, started and stopped as one: moto, resources (the events queue too), model,
functions, pollers, API."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from functions import contract
from infra import settings
from infra.local import model_seed, resources
from infra.local.containers import FunctionConfig, FunctionPool
from infra.local.event_source import SqsEventSource
from infra.local.gateway import ApiGateway, GatewayServer, HttpRequest, UsagePlan
from infra.local.resources import LOCAL_CREDENTIALS, LocalResources


class PortInUseError(Exception):
    """A port the local cloud needs is taken."""


@dataclass(frozen=True)
class LocalCloudConfig:
    api_keys: tuple[str, ...]
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 4566
    models: Path = Path("artifacts/models")
    state_dir: Path = Path("build/local-cloud")
    # concurrent containers of each function (Lambda's concurrency, capped for one machine)
    concurrency: int = 2
    throttled: bool = True
    retry_after_seconds: int = 2
    # extra environment for the functions (MODEL_REFRESH_SECONDS, UPLOAD_CHUNK_BYTES, LOG_LEVEL …)
    function_environment: dict[str, str] = field(default_factory=dict)

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"


class LocalCloud:
    def __init__(self, config: LocalCloudConfig) -> None:
        self.config = config
        self.resources: LocalResources | None = None
        self.model_version: str | None = None
        self._moto = ThreadedMotoServer(ip_address=config.host, port=config.aws_port, verbose=False)
        self._moto_running = False
        self._functions: list[FunctionPool] = []
        self._pollers: list[SqsEventSource] = []
        self._server: GatewayServer | None = None
        self._gateway: ApiGateway | None = None
        self._access_log = None

    def start(self) -> None:
        config = self.config
        for port in (config.aws_port, config.api_port):
            _ensure_free(config.host, port)
        model_seed.ensure_trained(config.models)
        self._moto.start()
        self._moto_running = True
        session = boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=resources.REGION,
        )
        s3 = session.client("s3", endpoint_url=config.aws_endpoint)
        sqs = session.client("sqs", endpoint_url=config.aws_endpoint)
        events = session.client("events", endpoint_url=config.aws_endpoint)
        self.resources = resources.provision(s3, sqs, events)
        self.model_version = model_seed.publish_if_missing(s3, self.resources.model_bucket, config.models)

        shutil.rmtree(self._scratch_dir, ignore_errors=True)
        environment = self._function_environment()
        jobs_environment, uploads_environment = (
            # as the CDK stack sets it from the queue's redrive policy
            {**environment, "MAX_RECEIVE_COUNT": str(queue.max_receive_count)}
            for queue in (settings.JOBS_QUEUE, settings.UPLOADS_QUEUE)
        )
        api, jobs, uploads = (
            FunctionPool(
                FunctionConfig(name, function, concurrency), function_environment, config.logs_dir, self._scratch_dir
            )
            for name, function, concurrency, function_environment in (
                ("api", settings.API_FUNCTION, config.concurrency, environment),
                (
                    "jobs",
                    settings.JOBS_QUEUE.consumer,
                    min(config.concurrency, settings.JOBS_QUEUE.max_concurrency),
                    jobs_environment,
                ),
                (
                    "uploads",
                    settings.UPLOADS_QUEUE.consumer,
                    min(config.concurrency, settings.UPLOADS_QUEUE.max_concurrency),
                    uploads_environment,
                ),
            )
        )
        self._functions = [api, jobs, uploads]
        self._pollers = [
            SqsEventSource(sqs, self.resources.jobs, jobs, retry_after_seconds=config.retry_after_seconds),
            SqsEventSource(sqs, self.resources.uploads, uploads, retry_after_seconds=config.retry_after_seconds),
        ]
        for poller in self._pollers:
            poller.start()

        # open for the cloud's life; stop() closes it
        self._access_log = open(config.logs_dir / "api-access.log", "a", buffering=1)  # noqa: SIM115
        plan = UsagePlan(config.api_keys, throttled=config.throttled)
        self._gateway = ApiGateway(api, plan, lambda line: self._access_log.write(line + "\n"))
        self._server = GatewayServer(self._gateway, config.host, config.api_port)
        self._server.start()

    def warm_up(self) -> int:
        """Starts one API container and loads the model in it; the status of ``GET /health``."""
        request = HttpRequest("GET", "/health", [("x-api-key", self.config.api_keys[0])], b"", self.config.host)
        return self._gateway.handle(request).status

    def stop(self) -> None:
        """Stops taking requests and messages, lets running invocations finish, then stops moto."""
        if self._server is not None:
            self._server.stop()
        for poller in self._pollers:
            poller.stop()
        for function in self._functions:
            function.close()
        if self._moto_running:
            self._moto.stop()
        if self._access_log is not None:
            self._access_log.close()
        shutil.rmtree(self._scratch_dir, ignore_errors=True)

    @property
    def _scratch_dir(self) -> Path:
        return self.config.state_dir / "containers"

    def _function_environment(self) -> dict[str, str]:
        """What the CDK stack sets (DESIGN.md's variables), pointed at moto, over the caller's extras."""
        return {
            **self.config.function_environment,
            **LOCAL_CREDENTIALS,
            "AWS_DEFAULT_REGION": resources.REGION,
            "AWS_REGION": resources.REGION,
            # as Lambda sets it: the handler modules start loading the model while they import
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_ENDPOINT_URL": self.config.aws_endpoint,
            **self.resources.function_environment(),
            "MODEL_REFRESH_SECONDS": self.config.function_environment.get(
                "MODEL_REFRESH_SECONDS", str(contract.MODEL_REFRESH_SECONDS)
            ),
        }


def _ensure_free(host: str, port: int) -> None:
    # moto's server thread would die on a taken port and leave its start waiting forever
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUseError(f"{host}:{port} is in use ({error.strerror}); choose another port") from None
