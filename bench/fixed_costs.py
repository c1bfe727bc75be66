"""What the stack costs each month whatever it processes: read from its synthesized template.

    .venv/bin/python -m bench.fixed_costs

Each resource priced by the month rather than by use is counted from the template the stack
synthesizes with the given context (the default settings unless told): dashboards, alarms (by
the metrics each watches), and KMS keys, secrets, NAT gateways and interface endpoints where a
setting adds them. Two lines do not come from the template: the custom metrics the functions
publish (counted from a run, :func:`custom_metrics`) and the worker image in ECR.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench import prices

WORKER_IMAGE_GB = 499 / 1024
"""The worker image's size (docs/worker-image.md), kept in the CDK assets repository in ECR."""


PRICED_BY_THE_MONTH = (
    ("composite alarms", "AWS::CloudWatch::CompositeAlarm", prices.COMPOSITE_ALARM_PER_MONTH),
    ("KMS keys", "AWS::KMS::Key", prices.KMS_KEY_PER_MONTH),
    ("secrets", "AWS::SecretsManager::Secret", prices.SECRET_PER_MONTH),
    ("NAT gateways", "AWS::EC2::NatGateway", prices.NAT_GATEWAY_PER_MONTH),
)
"""Resources a setting may add that cost the same each month, one by one."""


@dataclass(frozen=True)
class FixedCost:
    what: str
    count: float
    monthly: float
    note: str = ""
    only_while_files_flow: bool = False
    """Billed in the hours something is published (the custom metrics): nothing when idle."""


def synthesized_template(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stack's CloudFormation template, as ``cdk synth`` makes it with ``context``."""
    import aws_cdk as cdk

    from app import build_app

    with tempfile.TemporaryDirectory() as outdir:
        app, stack = build_app(cdk.App(outdir=outdir, context=context or {}))
        return dict(app.synth().get_stack_by_name(stack.stack_name).template)


def fixed_costs(template: dict[str, Any], custom_metric_count: int) -> list[FixedCost]:
    """Every monthly charge the template (and the functions' metrics) commits to."""
    resources = list(template["Resources"].values())

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r.get("Properties", {}) for r in resources if r["Type"] == kind]

    dashboards = len(of_type("AWS::CloudWatch::Dashboard"))
    standard_metrics = high_resolution_metrics = 0
    for alarm in of_type("AWS::CloudWatch::Alarm"):
        watched = sum(1 for m in alarm.get("Metrics", []) if "MetricStat" in m) or 1
        if int(alarm.get("Period") or 60) < 60:
            high_resolution_metrics += watched
        else:
            standard_metrics += watched
    alarms = len(of_type("AWS::CloudWatch::Alarm"))
    interface_endpoints = [e for e in of_type("AWS::EC2::VPCEndpoint") if e.get("VpcEndpointType") == "Interface"]
    schedules = [s for s in of_type("AWS::Scheduler::Schedule") if s.get("State") == "ENABLED"]
    lines = [
        FixedCost(
            "dashboards",
            dashboards,
            dashboards * prices.DASHBOARD_PER_MONTH,
            "assumes the account's 3 free dashboards are used by something else",
        ),
        FixedCost(
            f"alarms ({alarms}: {standard_metrics} metrics watched)",
            standard_metrics,
            standard_metrics * prices.ALARM_METRIC_PER_MONTH
            + high_resolution_metrics * prices.HIGH_RESOLUTION_ALARM_METRIC_PER_MONTH,
            "standard resolution; a metric-math alarm is billed per metric in it",
        ),
        FixedCost(
            "custom metrics (embedded-format, from the functions)",
            custom_metric_count,
            custom_metric_count * prices.CUSTOM_METRIC_PER_MONTH,
            "the series this run published",
            only_while_files_flow=True,
        ),
        FixedCost(
            "interface VPC endpoints",
            len(interface_endpoints),
            sum(len(e.get("SubnetIds", [1])) for e in interface_endpoints) * prices.INTERFACE_ENDPOINT_PER_AZ_MONTH,
        ),
        FixedCost(
            "worker image in ECR (GB)",
            round(WORKER_IMAGE_GB, 2),
            WORKER_IMAGE_GB * prices.ECR_STORAGE_PER_GB_MONTH,
            "not in the template: the CDK assets repository",
        ),
        FixedCost(
            "enabled schedules",
            len(schedules),
            0.0,
            "each sweep is a backfill run, priced by use" if schedules else "the sweep is off by default",
        ),
    ]
    for what, kind, monthly in PRICED_BY_THE_MONTH:
        count = len(of_type(kind))
        lines.append(FixedCost(what, count, count * monthly))
    return lines


def custom_metrics(records: Iterable[dict[str, Any]]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The distinct metrics (namespace, name, dimension values) in embedded-format records: what
    CloudWatch bills as custom metrics."""
    series = set()
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", [[]]):
                values = tuple(sorted((d, str(record.get(d, ""))) for d in dimensions))
                for metric in directive.get("Metrics", []):
                    series.add((directive.get("Namespace", ""), metric["Name"], values))
    return series


def print_fixed_costs(lines: list[FixedCost]) -> float:
    """Print the lines and their totals, idle and while files flow; return the idle one."""
    print(f"fixed monthly costs ({prices.CLOUDWATCH_AS_OF})")
    for line in lines:
        note = f"  ({line.note})" if line.note else ""
        print(f"  {line.what:55}{line.count:>8g}{line.monthly:>10.2f}{note}")
    idle = sum(line.monthly for line in lines if not line.only_while_files_flow)
    print(f"  {'a month, idle':55}{'':>8}{idle:>10.2f}")
    print(f"  {'a month, while files flow':55}{'':>8}{sum(line.monthly for line in lines):>10.2f}")
    return idle


if __name__ == "__main__":
    print_fixed_costs(fixed_costs(synthesized_template(), custom_metric_count=0))
