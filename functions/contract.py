"""What the service promises (DESIGN.md): its name, S3 layout, request limits and routes.

The runtime owns these; the CDK app, the local cloud and the tests import them from here, so
a limit or a prefix cannot drift between the code and either topology. The deployment's knobs
(memory, timeouts, throttles, redrive counts) live with the CDK app in ``infra/settings.py``.
Plain Python: importing it costs nothing on a cold start.
"""

from __future__ import annotations

from dataclasses import dataclass

APP_NAME = "Sentiment"

# S3 layout (DESIGN.md). The notification filter covers UPLOADS_PREFIX only.
MODEL_PREFIX = "models/"
UPLOADS_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"
JOBS_PREFIX = "jobs/"
# where functions.uploads keeps the parts of a large file until it joins (and deletes) them
UPLOAD_WORK_PREFIX = f"{RESULTS_PREFIX}.chunks/"

# how often a warm function re-reads the model pointer unless MODEL_REFRESH_SECONDS says otherwise
MODEL_REFRESH_SECONDS = 60

# Request limits of the contract (DESIGN.md).
MAX_TEXTS_PER_CLASSIFY = 64
MAX_TEXTS_PER_JOB = 10_000
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # the pydantic model of the route's JSON body (functions.api_models), None for a bodiless route
    request_model: str | None = None


# DESIGN.md's HTTP API, relative to the stage URL; every route goes to functions.api.
ROUTES = (
    Route("POST", "/classify", "ClassifyRequest"),
    Route("POST", "/jobs", "JobRequest"),
    Route("GET", "/jobs/{job_id}"),
    Route("GET", "/model"),
    Route("GET", "/health"),
    Route("GET", "/openapi.json"),
)
