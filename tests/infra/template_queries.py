"""Questions the infra tests ask of synthesized templates: which function runs a handler, what
its role may do, which queue feeds it."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from aws_cdk.assertions import Template

from infra.nag import flatten_reference


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return dict(template.find_resources(resource_type))


def function_for_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    matches = {
        logical_id: resource
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler") == handler
    }
    assert len(matches) == 1, f"expected one function for {handler}, found {sorted(matches)}"
    return next(iter(matches.items()))


def role_of(function: dict[str, Any]) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def policy_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to the role."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def allowed_resources(statements: list[dict[str, Any]], action: str | None = None) -> list[str]:
    """The resources (flattened as cdk-nag writes them) on which ``action`` (any, if None) is allowed."""
    found = []
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action is None or any(fnmatchcase(action.lower(), pattern.lower()) for pattern in actions):
            listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found.extend(flatten_reference(resource) for resource in listed)
    return found


def event_source_for(template: Template, function_id: str) -> dict[str, Any]:
    mappings = [
        mapping["Properties"]
        for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(mappings) == 1, f"expected one event source for {function_id}, found {len(mappings)}"
    return mappings[0]
