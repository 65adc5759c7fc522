"""What one deployment chooses: stage, architecture, authorization, retention, where alarms go.

Every choice comes from CDK context (``cdk.json`` or ``-c key=value``); account and region come
from context or from ``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION``, which the CDK CLI sets
from the caller's profile. Nothing here asks AWS, so synthesis needs no credentials. Plain
Python, importable without aws_cdk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from functions import contract
from infra import settings

ARCHITECTURES = ("arm64", "x86_64")
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeployConfigError(ValueError):
    """A context value is missing its expected form; the message names the key."""


@dataclass(frozen=True)
class DeployConfig:
    stage: str = "dev"
    architecture: str = "arm64"
    iam_auth: bool = False
    data_retention_days: int = settings.DEFAULT_DATA_RETENTION_DAYS
    alarm_email: str | None = None
    training_max_vcpus: int = settings.TRAINING.default_max_vcpus
    account: str | None = None
    region: str | None = None

    @classmethod
    def from_context(cls, context: Callable[[str], Any], environ: Mapping[str, str]) -> DeployConfig:
        """``context`` is ``app.node.try_get_context``; values given with ``-c`` arrive as strings."""
        defaults = cls()
        stage = str(context("stage") or defaults.stage)
        if not _STAGE.match(stage):
            raise DeployConfigError(
                f"context stage={stage!r}: use lower-case letters, digits and '-', starting with a letter"
            )
        architecture = str(context("architecture") or defaults.architecture)
        if architecture not in ARCHITECTURES:
            raise DeployConfigError(f"context architecture={architecture!r}: use one of {ARCHITECTURES}")
        alarm_email = context("alarmEmail") or None
        if alarm_email is not None and not _EMAIL.match(str(alarm_email)):
            raise DeployConfigError(f"context alarmEmail={alarm_email!r} is not an e-mail address")
        return cls(
            stage=stage,
            architecture=architecture,
            iam_auth=_flag(context, "iamAuth", defaults.iam_auth),
            data_retention_days=_whole_number(context, "dataRetentionDays", defaults.data_retention_days, minimum=1),
            alarm_email=alarm_email,
            # a compute environment smaller than one job would leave every job waiting
            training_max_vcpus=_whole_number(
                context, "trainingMaxVcpus", defaults.training_max_vcpus, minimum=settings.TRAINING.job_vcpus
            ),
            account=context("account") or environ.get("CDK_DEFAULT_ACCOUNT") or None,
            region=context("region") or environ.get("CDK_DEFAULT_REGION") or None,
        )

    def stack_name(self, part: str) -> str:
        return f"{contract.APP_NAME}-{self.stage}-{part}"


def _flag(context: Callable[[str], Any], key: str, default: bool) -> bool:
    value = context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DeployConfigError(f"context {key}={value!r}: use true or false")


def _whole_number(context: Callable[[str], Any], key: str, default: int, *, minimum: int) -> int:
    value = context(key)
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise DeployConfigError(f"context {key}={value!r}: use a whole number") from None
    if number < minimum:
        raise DeployConfigError(f"context {key}={value!r}: use a number of at least {minimum}")
    return number
