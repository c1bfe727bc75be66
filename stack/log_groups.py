"""Log groups with the configured retention, for every function, job and workflow."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
"""CDK's name for each retention CloudWatch Logs accepts (``LOG_RETENTION_DAYS``, which
``logRetentionDays`` is checked against)."""


def retention(days: int) -> logs.RetentionDays:
    """CloudWatch's retention of exactly ``days`` (the deployment refused any other number)."""
    return _RETENTION[days]


VENDED_LOGS = "/aws/vendedlogs/"
"""Log groups AWS services deliver to through a CloudWatch Logs resource policy (Step Functions,
API Gateway) go under this prefix: the service then names the prefix in the account's one policy,
whose 5,120-character limit per-group entries would soon exceed."""


def log_group(scope: Construct, construct_id: str, days: int, name: str | None = None) -> logs.LogGroup:
    return logs.LogGroup(
        scope, construct_id, retention=retention(days), removal_policy=RemovalPolicy.DESTROY, log_group_name=name
    )


def vended_log_group_name(scope: Construct, service: str, purpose: str) -> str:
    """``/aws/vendedlogs/<service>/<stack>-<purpose>``: where a service delivers a stack's logs."""
    return f"{VENDED_LOGS}{service}/{Stack.of(scope).stack_name}-{purpose}"


def vended_log_group(scope: Construct, construct_id: str, days: int, service: str, purpose: str) -> logs.LogGroup:
    """A log group a service delivers to (:func:`vended_log_group_name`)."""
    return log_group(scope, construct_id, days, vended_log_group_name(scope, service, purpose))
