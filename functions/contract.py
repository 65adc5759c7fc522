"""What the service promises (DESIGN.md): its name, S3 layout, request limits and routes.

The runtime owns these; the CDK app, the local cloud and the tests import them from here, so
a limit or a prefix cannot drift between the code and either topology. The deployment's knobs
(memory, timeouts, throttles, redrive counts) live with the CDK app in ``infra/settings.py``.
Plain Python: importing it costs nothing on a cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

APP_NAME = "Sentiment"

# S3 layout (DESIGN.md). The notification filter covers UPLOADS_PREFIX only.
MODEL_PREFIX = "models/"
UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
JOBS_PREFIX = "jobs/"
# labelled datasets that the GPU training job may read (make train-cloud DATA=s3://<data bucket>/training-data/...)
TRAINING_DATA_PREFIX = "training-data/"
# where functions.uploads keeps the parts of a large file until it joins (and deletes) them, and
# each upload run's small markers (joined, finished)
UPLOAD_WORK_PREFIX = f"{RESULTS_PREFIX}.chunks/"

# The events of DESIGN.md (Events): functions.jobs and functions.uploads put one on this bus
# when a job or an upload finishes, done or failed.
EVENT_BUS = "default"
EVENT_SOURCE = "sentiment"
JOB_FINISHED = "Job Finished"
UPLOAD_FINISHED = "Upload Finished"

# how often a warm function re-reads the model pointer unless MODEL_REFRESH_SECONDS says otherwise
MODEL_REFRESH_SECONDS = 60

# Metrics (CloudWatch EMF, functions.observability): the namespace, the service dimension every
# record carries, and the dimension that counts the work of the current model and of a canary
# apart whatever their versions (the CDK app alarms on the canary's).
METRICS_NAMESPACE = APP_NAME
METRICS_SERVICE = "sentiment"
MODEL_ROLE_DIMENSION = "ModelRole"
CURRENT_ROLE = "current"
CANARY_ROLE = "canary"

# Request limits of the contract (DESIGN.md).
MAX_TEXTS_PER_CLASSIFY = 64
MAX_TEXTS_PER_JOB = 10_000
MAX_TEXT_CHARS = 20_000

# Lambda takes a synchronous invocation of at most 6 MiB: the whole proxy event, in which the body
# is a JSON string beside the headers (twice: headers and multiValueHeaders) and the
# requestContext. API Gateway lets a request line and its headers hold 10 KiB of ASCII; escaped
# and repeated (the user agent sits in requestContext too) they fill at most 64 KiB of the event.
# Escaping grows a valid JSON body at most threefold: a 2-byte UTF-8 character becomes \uXXXX
# (6 bytes), a 4-byte one a surrogate pair (12), a quote \" and a newline \n (2). So a body within
# the cap always reaches the function, which refuses a larger one with 413. 64 texts of 20,000
# characters fit while they are mostly ASCII; of a 2-byte script (Cyrillic, Greek, Arabic) the cap
# holds about 1,037,000 characters, of a 3-byte one (CJK) about 691,000.
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
PROXY_EVENT_ENVELOPE_BYTES = 64 * 1024
MAX_BODY_ESCAPING_GROWTH = 3
MAX_BODY_BYTES = (LAMBDA_SYNC_PAYLOAD_BYTES - PROXY_EVENT_ENVELOPE_BYTES) // MAX_BODY_ESCAPING_GROWTH


# the header that carries a client's API key, as API Gateway reads it
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # the pydantic model of the route's JSON body (functions.api_models), None for a bodiless route
    request_model: str | None = None
    # whether the gateway refuses a request without a known x-api-key
    api_key_required: bool = True

    def path_parameters(self, path: str) -> dict[str, str] | None:
        """The values ``path`` gives the template's ``{parameters}`` (percent-decoded), or None
        when the path does not fit the template ("/jobs/ab%20c" gives {"job_id": "ab c"})."""
        parts, template = path.strip("/").split("/"), self.path.strip("/").split("/")
        if len(parts) != len(template):
            return None
        parameters = {}
        for expected, actual in zip(template, parts):
            if expected.startswith("{") and expected.endswith("}") and actual:
                parameters[expected[1:-1]] = unquote(actual)
            elif expected != actual:
                return None
        return parameters


# The API's description of itself: the OpenAPI document and the Swagger UI page over it (which
# carries its scripts and styles inline). They need no key: a browser cannot add an x-api-key
# header to a page load, and they reveal only the contract, which is no secret; stage throttling
# still bounds them. The page's Authorize button takes a key for the calls it makes, and those
# calls need one like any other (docs/serving.md).
DOCUMENTATION_ROUTES = (
    Route("GET", "/openapi.json", api_key_required=False),
    Route("GET", "/docs", api_key_required=False),
)

# DESIGN.md's HTTP API, relative to the stage URL; every route goes to functions.api.
ROUTES = (
    Route("POST", "/classify", "ClassifyRequest"),
    Route("POST", "/jobs", "JobRequest"),
    Route("GET", "/jobs/{job_id}"),
    Route("GET", "/model"),
    Route("GET", "/health"),
    *DOCUMENTATION_ROUTES,
)


def error_body(error: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The body of every error the API answers (functions.api_models.ErrorResponse documents it):
    a code, a sentence, and where the request broke the contract when that is known."""
    body: dict[str, Any] = {"error": error, "message": message}
    if details is not None:
        body["details"] = details
    return body


@dataclass(frozen=True)
class GatewayAnswer:
    """An answer API Gateway gives by itself, in the shape of the function's errors
    (``{"error": ..., "message": ...}``, functions.api_models.ErrorResponse)."""

    # None: the status API Gateway chose (the DEFAULT_4XX and DEFAULT_5XX catch-alls)
    status: int | None
    error: str
    # None: API Gateway's own message for the case
    message: str | None


# By API Gateway's gateway response type: the CDK app sets these as the REST API's gateway
# responses, the local gateway answers with them, and the OpenAPI document lists their statuses on
# every route. A body the request validator refuses is a 422 like one the function refuses.
GATEWAY_ANSWERS = {
    "BAD_REQUEST_BODY": GatewayAnswer(422, "invalid_request", "the request does not match the API"),
    "BAD_REQUEST_PARAMETERS": GatewayAnswer(422, "invalid_request", "the request does not match the API"),
    "MISSING_AUTHENTICATION_TOKEN": GatewayAnswer(
        403, "no_such_route", "no route of this API has this method and path (or the request is not signed)"
    ),
    "INVALID_API_KEY": GatewayAnswer(403, "invalid_api_key", f"send a key of this API in the {API_KEY_HEADER} header"),
    "ACCESS_DENIED": GatewayAnswer(403, "access_denied", None),
    "INVALID_SIGNATURE": GatewayAnswer(403, "invalid_signature", None),
    "EXPIRED_TOKEN": GatewayAnswer(403, "expired_signature", None),
    "REQUEST_TOO_LARGE": GatewayAnswer(413, "body_too_large", "the request is larger than API Gateway's 10 MB"),
    "UNSUPPORTED_MEDIA_TYPE": GatewayAnswer(415, "unsupported_content_type", "send the body as application/json"),
    "THROTTLED": GatewayAnswer(429, "throttled", "too many requests: slow down and retry"),
    "QUOTA_EXCEEDED": GatewayAnswer(429, "quota_exceeded", "this API key's daily quota is used up"),
    "INTEGRATION_TIMEOUT": GatewayAnswer(504, "timed_out", "the request took longer than API Gateway waits (29 s)"),
    "INTEGRATION_FAILURE": GatewayAnswer(504, "integration_failed", None),
    "DEFAULT_4XX": GatewayAnswer(None, "refused", None),
    "DEFAULT_5XX": GatewayAnswer(None, "gateway_error", None),
}
