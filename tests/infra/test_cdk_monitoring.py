"""Alarms on dead letters, function errors and throttles, API 5xx and latency, the canary's
errors and refused bundles, all notifying the alarm topic; and a dashboard."""

from __future__ import annotations

import pytest
from template_queries import event_source_for, function_for_handler, resources

from functions import contract
from infra import settings

pytestmark = pytest.mark.infra

HANDLERS = (settings.API_FUNCTION.handler, settings.JOBS_FUNCTION.handler, settings.UPLOADS_FUNCTION.handler)


@pytest.fixture(scope="module")
def service(templates):
    return templates["Service"]


@pytest.fixture(scope="module")
def alarms(service) -> list[dict]:
    return [alarm["Properties"] for alarm in resources(service, "AWS::CloudWatch::Alarm").values()]


def _alarmed(alarms, metric: str, dimension: str) -> list[dict]:
    return [
        alarm
        for alarm in alarms
        if alarm["MetricName"] == metric and any(item["Name"] == dimension for item in alarm["Dimensions"])
    ]


def test_every_dead_letter_queue_alarms_on_its_first_message(service, alarms):
    dead_letter_queues = set()
    for handler in (settings.JOBS_FUNCTION.handler, settings.UPLOADS_FUNCTION.handler):
        function_id, _ = function_for_handler(service, handler)
        queue_id = event_source_for(service, function_id)["EventSourceArn"]["Fn::GetAtt"][0]
        queue = resources(service, "AWS::SQS::Queue")[queue_id]
        dead_letter_queues.add(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
    watched = set()
    for alarm in _alarmed(alarms, "ApproximateNumberOfMessagesVisible", "QueueName"):
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        (dimension,) = alarm["Dimensions"]
        watched.add(dimension["Value"]["Fn::GetAtt"][0])
    assert watched == dead_letter_queues


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(service, alarms, metric):
    watched = {alarm["Dimensions"][0]["Value"]["Ref"] for alarm in _alarmed(alarms, metric, "FunctionName")}
    assert watched == {function_for_handler(service, handler)[0] for handler in HANDLERS}


def test_the_api_alarms_on_5xx_and_on_p99_latency(alarms):
    (server_errors,) = _alarmed(alarms, "5XXError", "ApiName")
    assert server_errors["Threshold"] == 1
    (latency,) = _alarmed(alarms, "Latency", "ApiName")
    assert latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == settings.ALARMS.api_p99_latency_ms
    assert latency["EvaluationPeriods"] == settings.ALARMS.latency_evaluation_periods


@pytest.mark.parametrize("metric", ["Errors", "RefusedBundles"])
def test_the_canary_alarms_on_its_first_error_and_refused_bundle_whatever_its_version(alarms, metric):
    (alarm,) = _alarmed(alarms, metric, contract.MODEL_ROLE_DIMENSION)
    assert alarm["Namespace"] == contract.METRICS_NAMESPACE
    # the dimensions the functions' EMF records carry (functions.observability.role_count), no version
    assert {item["Name"]: item["Value"] for item in alarm["Dimensions"]} == {
        contract.MODEL_ROLE_DIMENSION: contract.CANARY_ROLE,
        "service": contract.METRICS_SERVICE,
    }
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )


def test_every_alarm_notifies_the_alarm_topic_and_ignores_silence(service, alarms):
    (topic_id,) = resources(service, "AWS::SNS::Topic")
    assert len(alarms) == 2 + 2 * len(HANDLERS) + 2 + 2
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_a_dashboard_shows_the_service(service):
    (dashboard,) = resources(service, "AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric in ("5XXError", "Latency", "Invocations", "Throttles", "ApproximateNumberOfMessagesVisible"):
        assert metric in body
