"""Submits the GPU training job of a deployed stage to AWS Batch (``make train-cloud``).

    python -m infra.train_cloud --stage dev                       # the default IMDB model
    python -m infra.train_cloud --stage dev --data s3://<data bucket>/training-data/tickets.csv \\
        --label-column category [--test-data s3://...] [-- --epochs 8]

It reads the training stack's outputs (the job queue and the job definition) from
CloudFormation, where bundles are published from the job definition's own command (its
``--out``), and submits one job whose command is ``python -m
model_build.train`` with these arguments, the same command as on a laptop. The job's role reads
labelled datasets under ``s3://<data bucket>/training-data/`` only (DESIGN.md: data bucket).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from functions.contract import TRAINING_DATA_PREFIX
from model_build.labelled_data import is_labelled_source

STACK_NAME = "Sentiment-{stage}-Training"
OUTPUTS = ("JobQueueArn", "JobDefinitionArn")


class SubmitError(Exception):
    """The job cannot be submitted: no such stack, an output missing, a refused request."""


@dataclass(frozen=True)
class TrainingRequest:
    arch: str = "bow"
    data: str | None = None
    test_data: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    extra: tuple[str, ...] = ()

    def command(self, models_location: str) -> list[str]:
        """The arguments of ``python -m model_build.train`` in the container."""
        command = ["--arch", self.arch]
        for flag, value in (
            ("--data", self.data),
            ("--test-data", self.test_data),
            ("--text-column", self.text_column),
            ("--label-column", self.label_column),
        ):
            if value is not None:
                command += [flag, value]
        return [*command, "--device", "cuda", "--out", models_location, "--no-progress", *self.extra]

    def job_name(self, now: float | None = None) -> str:
        kind = "custom" if self.data and is_labelled_source(self.data) else "imdb"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        return re.sub(r"[^A-Za-z0-9_-]", "-", f"sentiment-{self.arch}-{kind}-{stamp}")[:128]


def stack_outputs(cloudformation, stage: str) -> dict[str, str]:
    name = STACK_NAME.format(stage=stage)
    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as error:  # boto3 raises several unrelated families
        raise SubmitError(f"cannot read the stack {name}: {str(error).splitlines()[0]} (is STAGE deployed?)") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise SubmitError(f"the stack {name} lacks the outputs {', '.join(missing)} (deploy this version of it)")
    return outputs


def published_location(batch, job_definition_arn: str) -> str:
    """The ``--out`` of the job definition's command: where the deployment publishes bundles."""
    try:
        (definition,) = batch.describe_job_definitions(jobDefinitions=[job_definition_arn])["jobDefinitions"]
        command = definition["containerProperties"]["command"]
        return command[command.index("--out") + 1]
    except Exception as error:
        raise SubmitError(f"cannot read the job definition {job_definition_arn}: {error}") from None


def submit(batch, cloudformation, stage: str, request: TrainingRequest) -> dict[str, str]:
    """Submits the job; returns its name and id."""
    if request.data is not None and request.data.startswith("s3://") and f"/{TRAINING_DATA_PREFIX}" not in request.data:
        print(
            f"note: the job's role reads s3://<data bucket>/{TRAINING_DATA_PREFIX}... only; {request.data} "
            "needs a grant of its own",
            file=sys.stderr,
        )
    outputs = stack_outputs(cloudformation, stage)
    models_location = published_location(batch, outputs["JobDefinitionArn"])
    name = request.job_name()
    try:
        answer = batch.submit_job(
            jobName=name,
            jobQueue=outputs["JobQueueArn"],
            jobDefinition=outputs["JobDefinitionArn"],
            containerOverrides={"command": request.command(models_location)},
        )
    except Exception as error:
        raise SubmitError(f"AWS Batch refused the job: {str(error).splitlines()[0]}") from None
    return {"jobName": answer["jobName"], "jobId": answer["jobId"]}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m infra.train_cloud",
        description="Submit python -m model_build.train as the AWS Batch GPU job of a deployed stage; "
        "arguments after -- go to model_build.train as they are.",
    )
    parser.add_argument("--stage", default="dev", help="the deployed stage (default: %(default)s)")
    parser.add_argument("--arch", default="bow", help="model architecture (default: %(default)s)")
    parser.add_argument("--data", help="training data: default the IMDB archive; or a labelled CSV/JSONL on S3")
    parser.add_argument("--test-data", help="a labelled dataset's separate evaluation set")
    parser.add_argument("--text-column", help="labelled dataset: the text column (default: text)")
    parser.add_argument("--label-column", help="labelled dataset: the label column (default: label)")
    args = parser.parse_args(argv)
    request = TrainingRequest(
        args.arch, args.data, args.test_data, args.text_column, args.label_column, tuple(extra)
    )  # fmt: skip
    import boto3

    try:
        job = submit(boto3.client("batch"), boto3.client("cloudformation"), args.stage, request)
    except SubmitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"submitted {job['jobName']} (job id {job['jobId']}); follow it with:")
    print(f"  aws batch describe-jobs --jobs {job['jobId']} --query 'jobs[0].status'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
