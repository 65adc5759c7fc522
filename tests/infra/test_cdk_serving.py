"""The serving functions and their queues: contract handlers and environment, DLQs, redrive,
visibility timeouts, partial batch responses, the upload notification."""

from __future__ import annotations

import pytest
from template_queries import event_source_for, function_for_handler, resources

from functions import contract
from functions.init_phase import RUNTIME_ENVIRONMENT
from infra import settings

pytestmark = pytest.mark.infra

HANDLERS = {
    "api": settings.API_FUNCTION,
    "jobs": settings.JOBS_FUNCTION,
    "uploads": settings.UPLOADS_FUNCTION,
}
QUEUES = {"jobs": settings.JOBS_QUEUE, "uploads": settings.UPLOADS_QUEUE}
CONTRACT_VARIABLES = {"MODEL_BUCKET", "MODEL_PREFIX", "DATA_BUCKET", "MODEL_REFRESH_SECONDS"}


@pytest.fixture(scope="module")
def service(templates):
    return templates["Service"]


def _queue_of(service, function_id: str) -> dict:
    arn = event_source_for(service, function_id)["EventSourceArn"]
    return resources(service, "AWS::SQS::Queue")[arn["Fn::GetAtt"][0]]


def test_the_contract_handlers_are_exactly_the_service_functions(service):
    handlers = {
        function["Properties"]["Handler"]
        for logical_id, function in resources(service, "AWS::Lambda::Function").items()
        if not logical_id.startswith("BucketNotificationsHandler")  # CDK's own custom resource
    }
    assert handlers == {
        "functions.api.lambda_handler",
        "functions.jobs.lambda_handler",
        "functions.uploads.lambda_handler",
    }


@pytest.mark.parametrize("name", HANDLERS)
def test_function_runs_python_312_on_arm64_traced_and_sized_from_settings(service, name):
    _, function = function_for_handler(service, HANDLERS[name].handler)
    properties = function["Properties"]
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Timeout"] == HANDLERS[name].timeout_seconds
    assert properties["MemorySize"] == HANDLERS[name].memory_mb


@pytest.mark.parametrize("name", HANDLERS)
def test_function_logs_to_a_log_group_with_retention(service, name):
    _, function = function_for_handler(service, HANDLERS[name].handler)
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources(service, "AWS::Logs::LogGroup")[log_group_id]["Properties"]["RetentionInDays"] == 30


def test_every_function_gets_the_contract_environment(service):
    for name, function_settings in HANDLERS.items():
        _, function = function_for_handler(service, function_settings.handler)
        variables = function["Properties"]["Environment"]["Variables"]
        assert set(variables) >= CONTRACT_VARIABLES, name
        assert variables["MODEL_PREFIX"] == contract.MODEL_PREFIX
        assert variables["MODEL_REFRESH_SECONDS"] == str(contract.MODEL_REFRESH_SECONDS)
        assert variables["MODEL_BUCKET"] == {"Fn::ImportValue": "Sentiment-dev-Storage-ModelsBucketName"}
        assert variables["DATA_BUCKET"] == {"Fn::ImportValue": "Sentiment-dev-Storage-DataBucketName"}


def test_every_function_runs_with_the_runtimes_own_variables(service):
    for name, function_settings in HANDLERS.items():
        variables = function_for_handler(service, function_settings.handler)[1]["Properties"]["Environment"][
            "Variables"
        ]
        assert variables.items() >= RUNTIME_ENVIRONMENT.items(), name


@pytest.mark.parametrize("name", QUEUES)
def test_each_consumer_knows_its_queues_redrive_count(service, name):
    _, function = function_for_handler(service, QUEUES[name].consumer.handler)
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["MAX_RECEIVE_COUNT"] == str(QUEUES[name].max_receive_count)


def test_only_the_api_knows_the_jobs_queue_and_only_the_uploads_worker_the_uploads_queue(service):
    jobs_worker_id, _ = function_for_handler(service, settings.JOBS_FUNCTION.handler)
    uploads_worker_id, _ = function_for_handler(service, settings.UPLOADS_FUNCTION.handler)
    jobs_queue_id = event_source_for(service, jobs_worker_id)["EventSourceArn"]["Fn::GetAtt"][0]
    uploads_queue_id = event_source_for(service, uploads_worker_id)["EventSourceArn"]["Fn::GetAtt"][0]

    def queue_variables(handler):
        variables = function_for_handler(service, handler)[1]["Properties"]["Environment"]["Variables"]
        return {name: value for name, value in variables.items() if name.endswith("_QUEUE_URL")}

    assert queue_variables(settings.API_FUNCTION.handler) == {"JOBS_QUEUE_URL": {"Ref": jobs_queue_id}}
    assert queue_variables(settings.JOBS_FUNCTION.handler) == {}
    assert queue_variables(settings.UPLOADS_FUNCTION.handler) == {"UPLOADS_QUEUE_URL": {"Ref": uploads_queue_id}}


@pytest.mark.parametrize("name", QUEUES)
def test_queue_consumer_reports_partial_batch_failures(service, name):
    function_id, _ = function_for_handler(service, QUEUES[name].consumer.handler)
    mapping = event_source_for(service, function_id)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == QUEUES[name].batch_size
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": QUEUES[name].max_concurrency}


@pytest.mark.parametrize("name", QUEUES)
def test_queue_visibility_is_at_least_six_times_its_consumers_timeout(service, name):
    function_id, function = function_for_handler(service, QUEUES[name].consumer.handler)
    queue = _queue_of(service, function_id)
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]


@pytest.mark.parametrize("name", QUEUES)
def test_queue_redrives_to_an_encrypted_dead_letter_queue(service, name):
    function_id, _ = function_for_handler(service, QUEUES[name].consumer.handler)
    redrive = _queue_of(service, function_id)["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == QUEUES[name].max_receive_count
    dead_letter_queue = resources(service, "AWS::SQS::Queue")[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]
    assert dead_letter_queue["Properties"]["SqsManagedSseEnabled"] is True
    assert dead_letter_queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_every_queue_is_encrypted_and_refuses_requests_without_tls(service):
    queues = resources(service, "AWS::SQS::Queue")
    assert len(queues) == 4
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    tls_only = set()
    for policy in resources(service, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                tls_only.update(queue["Ref"] for queue in policy["Properties"]["Queues"])
    assert tls_only == set(queues)


def test_objects_created_under_uploads_notify_the_uploads_queue(service):
    uploads_worker_id, _ = function_for_handler(service, settings.UPLOADS_FUNCTION.handler)
    uploads_queue_arn = event_source_for(service, uploads_worker_id)["EventSourceArn"]
    (notifications,) = resources(service, "Custom::S3BucketNotifications").values()
    properties = notifications["Properties"]
    assert properties["BucketName"] == {"Fn::ImportValue": "Sentiment-dev-Storage-DataBucketName"}
    assert properties["Managed"] is False  # adds to the bucket's notifications, replaces none
    (configuration,) = properties["NotificationConfiguration"]["QueueConfigurations"]
    assert configuration["QueueArn"] == uploads_queue_arn
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert configuration["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": contract.UPLOADS_PREFIX}]}}


def test_only_the_data_bucket_may_send_to_the_uploads_queue(service):
    uploads_worker_id, _ = function_for_handler(service, settings.UPLOADS_FUNCTION.handler)
    uploads_queue_id = event_source_for(service, uploads_worker_id)["EventSourceArn"]["Fn::GetAtt"][0]
    grants = [
        statement
        for policy in resources(service, "AWS::SQS::QueuePolicy").values()
        if {"Ref": uploads_queue_id} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    (grant,) = grants
    assert grant["Principal"] == {"Service": "s3.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::ImportValue": "Sentiment-dev-Storage-DataBucketArn"}
