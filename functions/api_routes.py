"""The HTTP API as a Powertools app: every route, its validation (pydantic models,
`functions.api_models`) and every error answer, in one place (the exception handlers at the end
of this module): input never causes a 5xx, and no stack trace reaches a caller.

`functions.api.lambda_handler` imports it on the first request that needs it: a plainly valid
``POST /classify`` is answered without it (`functions.plain_classify`), exactly as here.
"""

# ruff: noqa: E402 - the collector goes off before the imports below

from __future__ import annotations

from functions.init_phase import pause_garbage_collection, resume_garbage_collection

_collecting = pause_garbage_collection()  # until this module is ready (functions/init_phase.py)

import binascii
import json
import pathlib
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path

from functions import dependencies
from functions.api_models import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    HealthResponse,
    JobAccepted,
    JobRequest,
    JobStatusResponse,
    ModelCard,
)
from functions.classification import classification_body
from functions.contract import API_KEY_HEADER, APP_NAME, GATEWAY_ANSWERS, MAX_BODY_BYTES, ROUTES, error_body
from functions.http_answers import RequestBodyTooLargeError, bounded_json, unexpected_error_answer
from functions.job_service import JobNotFoundError, job_status, submit_job
from functions.model_store import ModelUnavailableError
from functions.object_store import StorageError
from functions.observability import logger
from functions.settings import SettingsError

API_VERSION = "1"


app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=bounded_json)

API_KEY_SCHEME = "ApiKey"
# Relative to where the document is served: the stage URL, a custom domain's base path or the
# local cloud's root, so the calls the docs page makes reach the stage that served it.
SERVER_URL = "."


def _documented(status: int, description: str, model: type) -> dict[int, dict[str, Any]]:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def _gateway_errors() -> dict[int, dict[str, Any]]:
    # API Gateway's own answers can meet any route before (or instead of) the function
    reasons: dict[int, list[str]] = {}
    for answer in GATEWAY_ANSWERS.values():
        if answer.status is not None:
            reasons.setdefault(answer.status, []).append(answer.message or answer.error.replace("_", " "))
    return {
        status: _documented(status, f"API Gateway refused it: {'; '.join(dict.fromkeys(texts))}", ErrorResponse)[status]
        for status, texts in sorted(reasons.items())
    }


# Powertools documents a route's own status only when given no `responses`; these routes list
# every status they answer with (422, for a body that breaks the models, it adds itself).
_SERVICE_ERRORS = {
    **_gateway_errors(),
    # API Gateway's request validator or the function: the details say where, when the function found it
    **_documented(422, "The request does not match the API", ErrorResponse),
    **_documented(500, "The service is misconfigured or failed unexpectedly", ErrorResponse),
    **_documented(502, "The function failed (API Gateway's answer)", ErrorResponse),
    **_documented(503, "No model can be served, or storage is unavailable", ErrorResponse),
}
_BODY_ERRORS = {
    **_SERVICE_ERRORS,
    **_documented(400, "The body is not valid UTF-8 (or base64)", ErrorResponse),
    **_documented(
        413, f"The body is larger than {MAX_BODY_BYTES:,} bytes, or the request than API Gateway's 10 MB", ErrorResponse
    ),
    **_documented(415, "The body is not application/json", ErrorResponse),
}


@app.post(
    "/classify",
    summary="Classify 1 to 64 texts",
    responses={**_documented(200, "Predictions in input order", ClassifyResponse), **_BODY_ERRORS},
)
def classify(request: ClassifyRequest):  # no return annotation: the body is written by classification_body
    body = classification_body(dependencies.model_store(), request.all_texts(), explain=request.explain)
    return Response(status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=body)


@app.post(
    "/jobs",
    summary="Queue 1 to 10,000 texts",
    responses={**_documented(202, "The job is queued", JobAccepted), **_BODY_ERRORS},
)
def create_job(request: JobRequest) -> Response[JobAccepted]:
    job_id = submit_job(dependencies.data_bucket(), dependencies.jobs_queue(), request.texts)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=JobAccepted(job_id=job_id).model_dump(),
    )


@app.get(
    "/jobs/<job_id>",
    summary="The status of a job, with its predictions when done",
    responses={
        **_documented(200, "The job's status", JobStatusResponse),
        **_documented(404, "No job has this id", ErrorResponse),
        **_SERVICE_ERRORS,
    },
)
def get_job(job_id: Annotated[str, Path(description="The id POST /jobs answered; any other is unknown (404)")]):
    status = vars(job_status(dependencies.data_bucket(), job_id))
    # Fields that do not apply to the status (predictions while queued) are left out, not null;
    # Powertools' response validation would put them back, so this route builds its own body.
    # Only those: a prediction's own nulls (an abstention's label) stay.
    not_applicable = {name for name, value in status.items() if value is None}
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=JobStatusResponse(**status).model_dump(exclude=not_applicable),
    )


@app.get(
    "/model",
    summary="The card of the model being served",
    responses={**_documented(200, "The model card", ModelCard), **_SERVICE_ERRORS},
)
def model_card() -> dict[str, Any]:
    # Served as published, not passed through `ModelCard` (which documents it): a card that says
    # more than the document names, or says it otherwise, is still the card, never a refusal.
    return dependencies.model_store().current().card


@app.get(
    "/health",
    summary="200 when a model is loaded",
    responses={**_documented(200, "A model is loaded", HealthResponse), **_SERVICE_ERRORS},
)
def health() -> HealthResponse:
    return HealthResponse(model_version=dependencies.model_store().current().version)


# The document and the page are built on the first request for them, not at import: Powertools'
# OpenAPI models (and the 1.7 MB page) would cost every cold start, and most never serve them.


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_served_openapi_json())


def _served_openapi_json() -> str:
    """The document, with the labels of the model(s) served now when there are any (a model
    trained on a team's own data has its own)."""
    try:
        labels = dependencies.model_store().labels()
    except ModelUnavailableError:
        return _openapi_json()
    return _openapi_json_with_labels(labels)


@cache
def _openapi_json_with_labels(labels: tuple[str, ...]) -> str:
    document = json.loads(_openapi_json())
    properties = document["components"]["schemas"]["PredictionBody"]["properties"]
    listed = ", ".join(labels)
    label, probabilities = properties["label"], properties["probabilities"]
    label["anyOf"][0]["enum"] = list(labels)
    label["description"] = f"One of the model's labels ({listed}); null when the service abstains"
    probabilities["anyOf"][0]["propertyNames"] = {"enum": list(labels)}
    probabilities["description"] = (
        f"The calibrated probability of every label ({listed}); null when the service abstains"
    )
    return json.dumps(document)


# Swagger UI over the same document, as Powertools' `enable_swagger` serves it (with `?format=json`
# the embedded document, with `?format=oauth2-redirect` the OAuth2 redirect page), built once.
@app.get("/docs", include_in_schema=False)
def docs_page():
    query = app.current_event.query_string_parameters or {}
    if query.get("format") == "oauth2-redirect":
        return Response(status_code=200, content_type=content_types.TEXT_HTML, body=_oauth2_redirect_page())
    if query.get("format") == "json":
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_embedded_openapi_json())
    return Response(status_code=200, content_type=content_types.TEXT_HTML, body=_swagger_page())


@cache
def _openapi_json() -> str:
    # Every route in the document needs the key; the two that serve it are not in it (functions/contract.py).
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    return app.get_openapi_json_schema(
        title=f"{APP_NAME} API",
        version=API_VERSION,
        servers=[Server(url=SERVER_URL)],
        security_schemes={
            API_KEY_SCHEME: APIKey(
                name=API_KEY_HEADER, in_=APIKeyIn.header, description="A key of the API's usage plan"
            )
        },
        security=[{API_KEY_SCHEME: []}],
    )


@cache
def _embedded_openapi_json() -> str:
    # escaped so that no "</script>" in the document can end the <script> element that carries it
    return _openapi_json().replace("</", "<\\/")


@cache
def _swagger_page() -> str:
    # With no base URL, the Swagger UI scripts and styles that Powertools ships are inlined: the
    # page loads nothing from the internet.
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = pathlib.Path(swagger_ui.__file__).parent
    script = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    styles = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    return swagger_ui.generate_swagger_html(
        _embedded_openapi_json(), script, styles, swagger_base_url=None, oauth2_config=None
    )


@cache
def _oauth2_redirect_page() -> str:
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_oauth2_redirect_html

    return generate_oauth2_redirect_html()


# -- errors to HTTP, in one place ------------------------------------------------------------


def _error(status: HTTPStatus, error: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body = error_body(error, message, details)  # the shape ErrorResponse documents
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _sent_json() -> bool:
    content_type = app.current_event.headers.get("content-type", "").strip().lower()
    return not content_type or content_type.startswith("application/json")


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response:
    if not _sent_json():
        return _unsupported_content_type(error)
    # loc and msg say what is wrong; pydantic's "input" would echo the text back, so it stays out
    details = [{"location": list(item["loc"]), "problem": item.get("msg", item["type"])} for item in error.errors()]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", "the request does not match the API", details)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_content_type(error: Exception) -> Response:
    return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", "send the body as application/json")


@app.exception_handler(ValueError)
def _unparsable_by_content_type(error: ValueError) -> Response:
    # Powertools parses a form or multipart body by its Content-Type before any route runs, and
    # raises ValueError on one it cannot parse (multipart/form-data without a boundary); no route
    # runs for a body that is not JSON, so there the error is the content type's
    if not _sent_json():
        return _unsupported_content_type(error)
    return _unexpected(error)


@app.exception_handler(RequestBodyTooLargeError)
def _too_large(error: RequestBodyTooLargeError) -> Response:
    return _error(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes"
    )


@app.exception_handler([binascii.Error, UnicodeDecodeError])
def _undecodable(error: ValueError) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, "undecodable_body", "the body is not valid UTF-8 (or not valid base64)")


@app.exception_handler(NotFoundError)
def _no_route(error: NotFoundError) -> Response:
    method = app.current_event.http_method.upper()
    path = app.current_event.path
    allowed = sorted(route.method for route in ROUTES if route.path_parameters(path) is not None)
    if allowed:
        response = _error(
            HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", f"{path} accepts {', '.join(allowed)}, not {method}"
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _error(HTTPStatus.NOT_FOUND, "not_found", f"there is no route {path}")


@app.exception_handler(JobNotFoundError)
def _unknown_job(error: JobNotFoundError) -> Response:
    return _error(HTTPStatus.NOT_FOUND, "job_not_found", "there is no job with this id")


@app.exception_handler(ModelUnavailableError)
def _no_model(error: ModelUnavailableError) -> Response:
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, "model_unavailable", str(error))


@app.exception_handler(StorageError)
def _storage_down(error: StorageError) -> Response:
    logger.error("storage failed", extra={"error": str(error)})
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, "storage_unavailable", "storage is unavailable, try again later")


@app.exception_handler(SettingsError)
def _misconfigured(error: SettingsError) -> Response:
    logger.error("the function is misconfigured", extra={"error": str(error)})
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "misconfigured", "the service is misconfigured")


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response:
    status, body = unexpected_error_answer()
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


resume_garbage_collection(_collecting)
