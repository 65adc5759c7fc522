"""Logger, metrics and tracing shared by the three functions (a neutral module, no handler).

Logs are JSON (Powertools Logger) and never carry raw input text: lengths and counts only.
Metrics are CloudWatch EMF in the ``Sentiment`` namespace. The handlers flush `metrics` for the
cold-start metric and the service's own counts (events not put); everything about predictions
goes out through `model_metrics`, with the model version as a dimension. While a canary is
served, `role_count` also counts by the model's part (``ModelRole``: ``current`` or
``canary``), a dimension whose values do not change from one version to the next, so an alarm
can watch the canary whatever its version.

The X-Ray SDK is slow to import (it builds a botocore client of its own), so the
Powertools Tracer is built on the first traced call, and only where tracing can work: inside
Lambda with ``POWERTOOLS_TRACE_DISABLED`` unset. Elsewhere (tests, the benchmark, the local
cloud) tracing is a no-op that imports nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from functions import contract

NAMESPACE = contract.METRICS_NAMESPACE
SERVICE = contract.METRICS_SERVICE
MODEL_VERSION_DIMENSION = "ModelVersion"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# These libraries log request parameters and bodies (texts included) at DEBUG; a DEBUG log
# level set for the function must not turn that on.
for _library in ("aws_lambda_powertools", "botocore", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)


@contextlib.contextmanager
def model_metrics(version: str) -> Iterator[EphemeralMetrics]:
    """Metrics of one unit of work (a request, a job, a file) for one model version, published
    as one EMF record on exit. A record of their own keeps the version dimension right even
    when a batch of work spans a model swap."""
    unit = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    unit.add_dimension(MODEL_VERSION_DIMENSION, version)
    yield unit
    unit.flush_metrics()


def role_count(role: str | None, name: str, value: float) -> None:
    """One EMF record counting ``name`` for a model's part (nothing when ``role`` is None: no canary)."""
    if role is None:
        return
    unit = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    unit.add_dimension(contract.MODEL_ROLE_DIMENSION, role)
    count(unit, name, value)
    unit.flush_metrics()


def count(metric: EphemeralMetrics | Metrics, name: str, value: float) -> None:
    """Adds to ``metric``: a unit of `model_metrics`, or `metrics` (published when the handler returns)."""
    metric.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(metric: EphemeralMetrics, name: str, seconds: float) -> None:
    metric.add_metric(name=name, unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 3))


@functools.cache
def _tracer():
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        return None
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def capture_lambda_handler(handler: Callable) -> Callable:
    """Powertools' ``tracer.capture_lambda_handler``, with the tracer built on first call."""

    @functools.wraps(handler)
    def traced(event, context):
        tracer = _tracer()
        if tracer is None:
            return handler(event, context)
        return tracer.capture_lambda_handler(handler)(event, context)

    return traced


@contextlib.contextmanager
def subsegment(name: str) -> Iterator[None]:
    """An X-Ray subsegment around a block, when tracing is on."""
    tracer = _tracer()
    if tracer is None:
        yield
        return
    with tracer.provider.in_subsegment(name):
        yield
