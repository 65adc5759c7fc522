"""``functions.api.lambda_handler``: the HTTP API behind API Gateway (REST proxy events).

A plainly valid ``POST /classify`` is answered by `functions.plain_classify`; every other request
by the Powertools app of `functions.api_routes` (routes, validation, every error answer), which is
imported on the first request that needs it. A cold start whose first request is a /classify
(most are) then imports neither Powertools' event handler nor pydantic, and both paths give the
same answer to the same request (tests hold them equal).
"""

# ruff: noqa: E402 - the collector goes off, and the model starts loading, before the imports below

from __future__ import annotations

from functions.init_phase import pause_garbage_collection, resume_garbage_collection

_collecting = pause_garbage_collection()  # until this module is ready (functions/init_phase.py)

from typing import Any

from functions import dependencies

# the model loads in the background while the rest of this module imports (Lambda only)
dependencies.preload_model_during_init()

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import plain_classify
from functions.observability import capture_lambda_handler, logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = plain_classify.answer(event)
    if answer is None:
        from functions import api_routes  # imported by the first request that needs the app

        answer = api_routes.app.resolve(event, context)
    return answer


resume_garbage_collection(_collecting)
