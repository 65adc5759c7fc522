"""cdk-nag's AwsSolutions rules on every synth, and the one way this app acknowledges a finding.

cdk-nag 3 runs as a CDK policy-validation plugin: an unacknowledged finding fails synthesis.
An acknowledgment sits on the construct it is about (and so covers its children), names the
rule, and says why.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledges AwsSolutions-IAM5 for one wildcard resource of ``scope``'s policies.

    cdk-nag names such a finding after the resource as it flattens it (``<Logical.Attr>`` for a
    GetAtt, the export name for an import), so the acknowledgment is derived the same way.
    """
    flat = flatten_reference(cdk.Stack.of(scope).resolve(resource))
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{flat}]", reason)


def flatten_reference(node: Any) -> str:
    """cdk-nag's ``flattenCfnReference``: a resolved CloudFormation value as one string."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(flatten_reference(item) for item in items)
    if "Fn::Sub" in node:
        return flatten_reference(node["Fn::Sub"])
    if "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
    if "Fn::ImportValue" in node:
        return flatten_reference(node["Fn::ImportValue"])
    if "Ref" in node:
        return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
