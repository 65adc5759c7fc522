"""Alarms and a dashboard for the serving side: dead letters, function errors and throttles,
API 5xx and latency, and the canary's errors and refused bundles (the functions count them by
``ModelRole``, whatever the canary's version). Every alarm notifies one SNS topic (and an
e-mail address, if given)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import contract
from infra import settings
from infra.nag import acknowledge

AT_LEAST_ONE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class ServiceMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        work_queues: Mapping[str, sqs.IQueue],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        rest_api: apigw.RestApi,
        alarm_email: str | None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._period = cdk.Duration.seconds(settings.ALARMS.period_seconds)
        self.topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True)
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry no customer data, and CloudWatch cannot publish to a topic "
            "encrypted with the AWS-managed key (a customer key would cost money while idle).",
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.alarms: list[cloudwatch.Alarm] = []
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=self._period, statistic="Maximum"),
                f"{name}: messages failed every delivery and wait in the dead-letter queue",
            )
        for name, function in functions.items():
            self._alarm(f"{name}Errors", function.metric_errors(period=self._period), f"{name}: invocations failed")
            self._alarm(
                f"{name}Throttles", function.metric_throttles(period=self._period), f"{name}: invocations throttled"
            )
        self._alarm("Api5xx", rest_api.metric_server_error(period=self._period), "API answered 5xx")
        self._alarm(
            "CanaryErrors",
            self.canary_metric("Errors"),
            "the canary model failed requests, jobs or uploads: roll it back (python -m model_build.registry rollback)",
        )
        self._alarm(
            "CanaryRefused",
            self.canary_metric("RefusedBundles"),
            "the functions refused the canary's bundle and serve the current version alone",
        )
        self._alarm(
            "ApiLatency",
            rest_api.metric_latency(period=self._period, statistic="p99"),
            f"API p99 latency above {settings.ALARMS.api_p99_latency_ms} ms",
            threshold=settings.ALARMS.api_p99_latency_ms,
            evaluation_periods=settings.ALARMS.latency_evaluation_periods,
        )
        self.dashboard = self._dashboard(functions, work_queues, dead_letter_queues, rest_api)

    def canary_metric(self, name: str) -> cloudwatch.Metric:
        """A metric the functions count by role (Predictions, Errors, RefusedBundles), summed over the canary's work."""
        return cloudwatch.Metric(
            namespace=contract.METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={contract.MODEL_ROLE_DIMENSION: contract.CANARY_ROLE,
                            "service": contract.METRICS_SERVICE},
            period=self._period,
            statistic="Sum",
        )  # fmt: skip

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=AT_LEAST_ONE,
            evaluation_periods=evaluation_periods,
            # no traffic is not a failure
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(self, functions, work_queues, dead_letter_queues, rest_api) -> cloudwatch.Dashboard:
        period = self._period
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=cdk.Stack.of(self).stack_name, default_interval=cdk.Duration.hours(6)
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    rest_api.metric_count(period=period),
                    rest_api.metric_client_error(period=period),
                    rest_api.metric_server_error(period=period),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency",
                left=[rest_api.metric_latency(period=period, statistic=stat) for stat in ("p50", "p99")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name} function",
                    left=[
                        function.metric_invocations(period=period),
                        function.metric_errors(period=period),
                        function.metric_throttles(period=period),
                    ],
                    right=[function.metric_duration(period=period, statistic="p99")],
                    width=8,
                )
                for name, function in functions.items()
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=period, label=name)
                    for name, queue in work_queues.items()
                ],
                right=[
                    queue.metric_approximate_number_of_messages_visible(period=period, label=f"{name} dead letters")
                    for name, queue in dead_letter_queues.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Oldest message age",
                left=[
                    queue.metric_approximate_age_of_oldest_message(period=period, label=name)
                    for name, queue in work_queues.items()
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Canary: its share of the work and its failures",
                left=[
                    cloudwatch.Metric(
                        namespace=contract.METRICS_NAMESPACE,
                        metric_name="Predictions",
                        period=period,
                        statistic="Sum",
                        dimensions_map={contract.MODEL_ROLE_DIMENSION: role, "service": contract.METRICS_SERVICE},
                        label=f"{role} predictions",
                    )  # fmt: skip
                    for role in (contract.CURRENT_ROLE, contract.CANARY_ROLE)
                ],
                right=[self.canary_metric(name) for name in ("Errors", "RefusedBundles")],
                width=24,
            ),
        )
        return dashboard
