"""cdk-nag and cfn-lint over the synthesized app."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from app_synthesis import cdk_json_context
from aws_cdk import aws_sqs as sqs

from infra.app import build_app
from infra.deploy_config import DeployConfig

pytestmark = pytest.mark.infra

# CDK writes an explicit DependsOn beside a GetAtt that already implies it; harmless.
CFN_LINT_IGNORED = ("W3005",)


def test_synthesis_reports_no_nag_finding(assembly):
    report = json.loads(Path(assembly.directory, "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_an_unacknowledged_nag_finding_stops_synthesis(tmp_path):
    app = build_app({**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    storage = app.node.find_child(DeployConfig().stack_name("Storage"))
    sqs.Queue(storage, "QueueWithoutDeadLetterQueue", enforce_ssl=True)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {violation["ruleName"] for plugin in report["pluginReports"] for violation in plugin["violations"]}
    assert violations == {"AwsSolutions-SQS3"}


def _nag_acknowledgments(assembly) -> dict[str, str]:
    """``{"<construct path> <rule>": reason}`` of every cdk-nag acknowledgment in the assembly
    (CDK acknowledges some of its own CloudFormation-Validate rules too; those are not ours)."""
    found = {}
    for metadata_file in Path(assembly.directory).glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.update(
                        {f"{path} {rule}": reason for rule, reason in entry["data"].items() if "AwsSolutions-" in rule}
                    )
    return found


def test_every_acknowledgment_names_an_aws_solutions_rule_and_a_reason(assembly):
    acknowledgments = _nag_acknowledgments(assembly)
    assert acknowledgments
    for where, reason in acknowledgments.items():
        rule = where.split(" ", 1)[1]
        assert re.fullmatch(r"(Annotation::)?AwsSolutions-[A-Z]+\d+(\[.+\])?", rule), where
        assert len(reason.split()) >= 8, f"{where}: {reason!r} does not say why"


def test_cfn_lint_finds_nothing_in_any_template(assembly):
    templates = sorted(str(path) for path in Path(assembly.directory).glob("*.template.json"))
    assert len(templates) == 3
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
