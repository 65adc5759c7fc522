"""API Gateway (REST API, Lambda proxy integration) in front of ``functions.api`` on loopback.

What the deployed gateway does, in its order: a request for a route the API does not declare is
answered 403 ``no_such_route``; one without a known ``x-api-key`` 403 ``invalid_api_key``
(except on the routes that need no key, ``contract.DOCUMENTATION_ROUTES``); one past its key's
usage plan (rate and burst, daily quota) or past the stage's throttle 429.
Every other request becomes a REST proxy event (payload v1) for the function, and the function's
answer goes back as the HTTP response. A function error is a 502, an answer later than the
integration timeout (29 s) a 504, with ``x-amzn-ErrorType`` headers and the bodies the CDK
stack's gateway responses give (``contract.GATEWAY_ANSWERS``: the function's error shape). Any
method, known to http.server or not, gets such an answer.

Not emulated: the request validator of the CDK stack (bodies reach the function unvalidated, and
the function validates them itself), custom domains, and the stage name in the URL: the routes
are served at the root (``http://127.0.0.1:3000/classify``).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import TimeoutError as InvocationTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from functions import contract
from infra import settings
from infra.local import lambda_events
from infra.local.containers import FunctionPool
from infra.local.throttling import DailyQuota, TokenBucket

logger = logging.getLogger(__name__)

# the routes are served at the root; the events name this stage, as a deployed API names its own
LOCAL_STAGE = lambda_events.RestApiStage(stage="local", api_id="local", domain_name="localhost")
# API Gateway's limit on a request's payload
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# API Gateway's value rules for an API key
API_KEY_LENGTHS = range(20, 129)


@dataclass(frozen=True)
class GatewayError:
    # the gateway response of the CDK stack that shapes the answer (contract.GATEWAY_ANSWERS)
    response_type: str
    error_type: str  # the x-amzn-ErrorType header
    # API Gateway's own status and message, where the gateway response keeps them
    status: int
    message: str


MISSING_TOKEN = GatewayError(
    "MISSING_AUTHENTICATION_TOKEN", "MissingAuthenticationTokenException", 403, "Missing Authentication Token"
)
FORBIDDEN = GatewayError("INVALID_API_KEY", "ForbiddenException", 403, "Forbidden")
TOO_MANY_REQUESTS = GatewayError("THROTTLED", "TooManyRequestsException", 429, "Too Many Requests")
QUOTA_EXCEEDED = GatewayError("QUOTA_EXCEEDED", "LimitExceededException", 429, "Limit Exceeded")
TOO_LONG = GatewayError("REQUEST_TOO_LARGE", "RequestTooLongException", 413, "Request Too Long")
INTERNAL_ERROR = GatewayError("DEFAULT_5XX", "InternalServerErrorException", 502, "Internal server error")
TIMED_OUT = GatewayError("INTEGRATION_TIMEOUT", "IntegrationTimeoutException", 504, "Endpoint request timed out")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class MatchedRoute:
    resource: str  # the route template, "/jobs/{job_id}"
    path_parameters: dict[str, str]
    api_key_required: bool = True


def match_route(method: str, path: str, routes: Iterable[contract.Route] = contract.ROUTES) -> MatchedRoute | None:
    for route in routes:
        if route.method == method and (parameters := route.path_parameters(path)) is not None:
            return MatchedRoute(route.path, parameters, route.api_key_required)
    return None


class UsagePlan:
    """The client plan of the CDK stack: each API key its own rate, burst and daily quota."""

    def __init__(self, api_keys: Iterable[str], *, throttled: bool) -> None:
        self.api_keys = list(api_keys)
        self._throttled = throttled
        self._stage = TokenBucket(settings.STAGE_THROTTLE)
        self._clients = {key: TokenBucket(settings.CLIENT_THROTTLE) for key in self.api_keys}
        self._quotas = {key: DailyQuota(settings.CLIENT_DAILY_QUOTA) for key in self.api_keys}

    def key_id(self, api_key: str) -> str:
        return f"local-key-{self.api_keys.index(api_key) + 1}"

    def admit(self, api_key: str | None, *, key_required: bool = True) -> GatewayError | None:
        """None when the request may pass, else the error API Gateway would answer."""
        if not key_required:
            # a method that needs no key belongs to no usage plan: only the stage's throttle holds it
            return TOO_MANY_REQUESTS if self._throttled and not self._stage.take() else None
        if api_key not in self._clients:
            return FORBIDDEN
        if not self._throttled:
            return None
        if not self._clients[api_key].take() or not self._stage.take():
            return TOO_MANY_REQUESTS
        if not self._quotas[api_key].take():
            return QUOTA_EXCEEDED
        return None


def proxy_event(
    request: HttpRequest, route: MatchedRoute, *, api_key: str, api_key_id: str, request_id: str
) -> dict[str, Any]:
    """The REST proxy event (payload v1) API Gateway sends the function for this request."""
    body, is_base64 = lambda_events.encode_body(request.body)
    return lambda_events.rest_proxy_event(
        request.method,
        request.target,
        headers=request.headers,
        body=body,
        is_base64_encoded=is_base64,
        resource=route.resource,
        path_parameters=route.path_parameters,
        api_key=api_key,
        api_key_id=api_key_id,
        source_ip=request.source_ip,
        request_id=request_id,
        stage=LOCAL_STAGE,
    )


def http_response(result: Any, request_id: str) -> HttpResponse:
    """The HTTP response for the function's answer; a 502 when it is not a proxy response."""
    try:
        status = int(result["statusCode"])
        headers = [
            (name, str(value)) for name, values in (result.get("multiValueHeaders") or {}).items() for value in values
        ]
        named = {name.lower() for name, _ in headers}
        headers += [
            (name, str(value)) for name, value in (result.get("headers") or {}).items() if name.lower() not in named
        ]
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    except (TypeError, KeyError, ValueError, AttributeError):
        logger.error("the function answered no proxy response (request %s)", request_id)
        return error_response(INTERNAL_ERROR, request_id)
    return HttpResponse(status, [*headers, ("x-amzn-RequestId", request_id)], data)


def error_response(error: GatewayError, request_id: str) -> HttpResponse:
    """The answer the CDK stack's gateway response for ``error`` gives, in the API's error shape."""
    answer = contract.GATEWAY_ANSWERS[error.response_type]
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error.error_type),
        ("x-amzn-RequestId", request_id),
    ]
    body = {"error": answer.error, "message": answer.message or error.message}
    return HttpResponse(answer.status or error.status, headers, json.dumps(body).encode())


class ApiGateway:
    """The gateway's decisions for one request, apart from HTTP serving."""

    def __init__(self, function: FunctionPool, plan: UsagePlan, access_log: Callable[[str], None]) -> None:
        self._function = function
        self._plan = plan
        self._access_log = access_log

    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        response = self._respond(request, request_id)
        # method, path and status only: bodies carry the clients' texts
        self._access_log(
            f'{request.source_ip} "{request.method} {urlsplit(request.target).path}" {response.status} '
            f"{len(response.body)} {1000 * (time.perf_counter() - started):.1f}ms {request_id}"
        )
        return response

    def _respond(self, request: HttpRequest, request_id: str) -> HttpResponse:
        route = match_route(request.method, urlsplit(request.target).path)
        if route is None:
            return error_response(MISSING_TOKEN, request_id)
        api_key = None
        if route.api_key_required:  # elsewhere a key is not looked at, as by API Gateway
            api_key = next((value for name, value in request.headers if name.lower() == contract.API_KEY_HEADER), None)
        refused = self._plan.admit(api_key, key_required=route.api_key_required)
        if refused is not None:
            return error_response(refused, request_id)
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return error_response(TOO_LONG, request_id)
        api_key_id = self._plan.key_id(api_key) if api_key is not None else None
        event = proxy_event(request, route, api_key=api_key, api_key_id=api_key_id, request_id=request_id)
        try:
            result = self._function.invoke(event).result(timeout=settings.API_FUNCTION.timeout_seconds)
        except InvocationTimeout:
            return error_response(TIMED_OUT, request_id)
        except Exception as error:
            logger.error("%s failed: %s: %s", self._function.config.function_name, type(error).__name__, error)
            return error_response(INTERNAL_ERROR, request_id)
        return http_response(result, request_id)


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of API Gateway
    disable_nagle_algorithm = True  # a response is one write; Nagle would hold it back
    gateway: ApiGateway  # set on the subclass `GatewayServer` makes

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._send(error_response(TOO_LONG, str(uuid.uuid4())))
            self.close_connection = True
            return
        body = (
            self._read_chunked()
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            else self.rfile.read(length)
        )
        request = HttpRequest(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        self._send(self.gateway.handle(request))

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                break
        else:
            while self.rfile.readline().strip():  # trailers
                pass
        return bytes(body)

    def _send(self, response: HttpResponse) -> None:
        lines = [f"{self.protocol_version} {response.status} {self.responses.get(response.status, ('',))[0]}"]
        lines += [f"{name}: {value}" for name, value in response.headers if name.lower() != "content-length"]
        lines += [f"Content-Length: {len(response.body)}", f"Date: {self.date_time_string()}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        self.wfile.write(head + (b"" if self.command == "HEAD" else response.body))

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers an HTML 501 where there is none; API
        # Gateway answers any method (TRACE, PROPFIND, a lowercase one) itself, so every
        # method goes through the gateway, which refuses the ones no route declares
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # HTTP that http.server cannot parse (a bad request line, oversized headers) gets the
        # gateway's JSON error shape as well, not http.server's HTML page; the reason phrase only,
        # since http.server's message quotes the request line back. Each is the client's fault
        # (an unsupported HTTP version included, a 505 to http.server), so each is a 4xx.
        status = code if code < 500 else 400
        refused = GatewayError("DEFAULT_4XX", "BadRequestException", status, self.responses[code][0])
        self.close_connection = True
        self._send(error_response(refused, str(uuid.uuid4())))

    def log_message(self, format: str, *args: Any) -> None:
        # `ApiGateway` writes the access log; this is only for malformed HTTP
        logger.debug(format, *args)


class GatewayServer:
    """The HTTP server in a thread of its own; one thread per connection."""

    def __init__(self, gateway: ApiGateway, host: str, port: int) -> None:
        handler = type("GatewayHandler", (_HttpHandler,), {"gateway": gateway})
        server_class = type(
            "GatewayHttpServer", (ThreadingHTTPServer,), {"request_queue_size": 128, "daemon_threads": True}
        )
        self._server = server_class((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
