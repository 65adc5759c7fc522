"""The service on one machine: ``python -m infra.local`` (docs/local-cloud.md).

moto server plays S3, SQS and EventBridge (`event_log` keeps the events the functions put),
`gateway` plays API Gateway (REST proxy events, API keys, usage plan throttling), `event_source`
plays Lambda's SQS event source mappings, and `containers` runs the three handlers in processes
of their own, as Lambda runs them in containers. Names, limits,
timeouts and redrive counts come from `infra.settings`, as the CDK app's do.

Nothing here imports aws_cdk or torch: the handlers' processes import what Lambda would.
"""
