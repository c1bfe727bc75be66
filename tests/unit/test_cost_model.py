"""The cost model's pricing of logs and of what the stack costs each month whatever it processes."""

from __future__ import annotations

from typing import Any

from bench import prices
from bench.cost_model import GB, RETENTION_MONTHS, Usage, ingested, platform_lines
from bench.fixed_costs import custom_metrics, fixed_costs


def alarm(period: int = 300, metrics: int = 0) -> dict[str, Any]:
    properties: dict[str, Any] = {"Period": period}
    if metrics:
        properties = {"Metrics": [{"Id": f"m{i}", "MetricStat": {}} for i in range(metrics)] + [{"Id": "e"}]}
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def test_alarms_are_priced_by_the_metrics_they_watch_and_dashboards_each() -> None:
    template = {
        "Resources": {
            "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
            "Plain": alarm(),
            "Math": alarm(metrics=3),
            "Fast": alarm(period=10),
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        }
    }
    lines = {line.what.split(" (")[0]: line for line in fixed_costs(template, custom_metric_count=2)}
    assert lines["dashboards"].monthly == prices.DASHBOARD_PER_MONTH
    assert lines["alarms"].count == 4, "one plain alarm and the three metrics of the math one"
    assert lines["alarms"].monthly == 4 * prices.ALARM_METRIC_PER_MONTH + prices.HIGH_RESOLUTION_ALARM_METRIC_PER_MONTH
    assert lines["custom metrics"].monthly == 2 * prices.CUSTOM_METRIC_PER_MONTH
    assert [line.what for line in lines.values() if line.only_while_files_flow] == [lines["custom metrics"].what]
    assert lines["KMS keys"].monthly == prices.KMS_KEY_PER_MONTH
    assert lines["NAT gateways"].monthly == 0


def test_custom_metrics_are_counted_by_name_and_dimension_values() -> None:
    def record(outcome: str) -> dict[str, Any]:
        directive = {
            "Namespace": "filepipe",
            "Dimensions": [["service", "outcome"]],
            "Metrics": [{"Name": "Files"}, {"Name": "Bytes"}],
        }
        return {"_aws": {"CloudWatchMetrics": [directive]}, "service": "archive", "outcome": outcome, "Files": 1}

    assert len(custom_metrics([record("archived"), record("archived"), record("failed")])) == 4


def test_log_bytes_are_priced_for_ingestion_and_the_retention() -> None:
    usage = Usage(log_bytes=GB)
    expected = prices.LOGS_INGESTION_PER_GB + prices.LOGS_STORAGE_PER_GB_MONTH * RETENTION_MONTHS
    assert usage.log_dollars() == usage.dollars() == expected
    assert ingested(["ab", "é"]) == 2 + 2 + 2 * prices.LOGS_EVENT_OVERHEAD_BYTES, "UTF-8 bytes and 26 per event"
    start, report = platform_lines(512)
    assert '"type":"platform.start"' in start and '"memorySizeMB":512' in report
