"""The local gateway's HTTP server answers every method and every malformed request as API
Gateway would, in the API's JSON error shape (never http.server's HTML pages)."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from functions.api_models import ErrorResponse
from infra.local.gateway import ApiGateway, GatewayServer, UsagePlan

pytestmark = pytest.mark.functional

API_KEY = "gateway-http-test-key-0123"


class UnreachableFunction:
    """The requests below are all answered by the gateway: none may invoke the function."""

    def invoke(self, event):
        raise AssertionError(f"the function was invoked for {event['httpMethod']} {event['path']}")


@pytest.fixture(scope="module")
def gateway_port():
    gateway = ApiGateway(UnreachableFunction(), UsagePlan([API_KEY], throttled=False), access_log=lambda line: None)
    server = GatewayServer(gateway, "127.0.0.1", 0)
    server.start()
    yield server.port
    server.stop()


def request(port: int, method: str, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers={"x-api-key": API_KEY})
    return connection.getresponse()


def error_of(response: http.client.HTTPResponse) -> ErrorResponse:
    assert response.getheader("Content-Type") == "application/json"
    return ErrorResponse.model_validate(json.loads(response.read()))


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT", "BREW", "get", "Post"])
def test_a_method_no_route_declares_gets_the_json_answer_of_a_missing_route(gateway_port, method):
    response = request(gateway_port, method, "/classify")

    assert response.status == 403
    assert error_of(response).error == "no_such_route"


def test_a_declared_method_on_an_undeclared_path_gets_the_same_answer(gateway_port):
    response = request(gateway_port, "GET", "/nowhere")

    assert (response.status, error_of(response).error) == (403, "no_such_route")


def raw_exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    "data",
    [b"NONSENSE\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n", b"GET /health HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"],
    ids=["bad request line", "unknown HTTP version", "too many headers"],
)
def test_http_the_server_cannot_parse_gets_a_json_4xx(gateway_port, data):
    status, headers, body = raw_exchange(gateway_port, data)

    assert 400 <= status < 500
    assert headers["Content-Type"] == "application/json"
    assert ErrorResponse.model_validate(json.loads(body)).error == "refused"
