"""What one file costs: counted from a real run in the local cloud, priced with bench/prices.py.

    .venv/bin/python -m bench.cost_model

For a small file on each tier (the Standard machine, and the Express one: ``smallFileWorkflow``)
and a large one (Batch path) it counts, from the executed history (an Express execution's from
its log group, as in AWS) and the requests the local endpoint served: state transitions, Express
requests and duration, Lambda invocations and GB-seconds (local durations in warm environments,
at the stack's memory sizes), S3 requests by price class, DynamoDB writes (the claim), SQS
requests, and Fargate time for the Batch job; then dollars per million files, beside the plain
pattern of one S3-triggered Lambda that transforms, copies and deletes (same S3 work, no queue,
no workflow).

Logs are priced too, at each ``executionLogs`` setting: the bytes CloudWatch Logs would ingest
for the file, counted from the run: the Express log group's events as the local cloud writes
them (a Standard machine's, which the local cloud does not log, through the same filter from its
history), every line the functions printed (log lines and embedded-format metrics), and the
system lines Lambda writes for each invocation (``platform.start`` and ``platform.report``, in
the JSON format the stack sets), each with CloudWatch's 26 bytes per event; stored for the
stack's retention. Then the fixed monthly costs (``bench/fixed_costs.py``).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bench import prices
from bench.fixed_costs import custom_metrics, fixed_costs, print_fixed_costs, synthesized_template
from filepipe.deployment import Deployment
from filepipe.execution_logs import EXECUTION_LOGS, logged_events
from filepipe.local import LocalCloud, LocalConfig
from filepipe.local.config import LocalNaming

MEMORY_MB = {LocalNaming.function_name(p): spec.memory_mb for p, spec in Deployment().functions().items()}
BATCH_VCPUS, BATCH_MEMORY_GB = 2, 4
TRIGGER_BATCH = 10
"""Files per trigger invocation and per SQS receive/delete, with the stack's batch size."""
GB = 1024**3
RETENTION_MONTHS = Deployment().log_retention_days / 30.4
"""How long each ingested byte stays stored (``logRetentionDays``), in months."""


@dataclass
class Usage:
    transitions: int = 0
    express_seconds: float = 0
    """An Express execution's billed duration (0: not an Express execution)."""
    invocations: float = 0
    gb_seconds: float = 0
    s3_write_class: int = 0
    s3_read_class: int = 0
    sqs_requests: float = 0
    dynamodb_writes: int = 0
    fargate_seconds: float = 0
    log_bytes: float = 0
    """CloudWatch Logs ingested for the file: the machine's events, the functions' lines and
    Lambda's system lines, with 26 bytes per event."""

    def log_dollars(self) -> float:
        """Ingesting the file's log bytes, and storing them for the retention."""
        per_gb = prices.LOGS_INGESTION_PER_GB + prices.LOGS_STORAGE_PER_GB_MONTH * RETENTION_MONTHS
        return self.log_bytes / GB * per_gb

    def dollars(self) -> float:
        express = (
            prices.STEP_FUNCTIONS_EXPRESS_PER_REQUEST
            + self.express_seconds * prices.EXPRESS_MEMORY_GB * prices.STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND
            if self.express_seconds
            else 0.0
        )
        return (
            express
            + self.log_dollars()
            + self.dynamodb_writes * prices.DYNAMODB_ON_DEMAND_PER_WRITE
            + self.transitions * prices.STEP_FUNCTIONS_STANDARD_PER_TRANSITION
            + self.invocations * prices.LAMBDA_PER_REQUEST
            + self.gb_seconds * prices.LAMBDA_PER_GB_SECOND
            + self.s3_write_class * prices.S3_PUT_COPY_POST_LIST_PER_REQUEST
            + self.s3_read_class * prices.S3_GET_HEAD_PER_REQUEST
            + self.sqs_requests * prices.SQS_PER_REQUEST
            + self.fargate_seconds
            / 3600
            * (BATCH_VCPUS * prices.FARGATE_PER_VCPU_HOUR + BATCH_MEMORY_GB * prices.FARGATE_PER_GB_HOUR)
        )


def request_counter(buckets: tuple[str, ...]) -> tuple[Counter[str], Callable[..., None]]:
    """Count the S3 requests on the pipeline's buckets by price class, and DynamoDB writes."""
    counts: Counter[str] = Counter()

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if any(path.startswith(f"/{b}") for b in buckets):
            counts["read" if method in ("GET", "HEAD") else "free" if method == "DELETE" else "write"] += 1
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_") and target.endswith(("PutItem", "DeleteItem", "UpdateItem")):
            counts["dynamodb_write"] += 1
        return None

    return counts, route


def run_one(
    cloud: LocalCloud, key: str, body: bytes, counts: Counter[str], tier: str = "standard", level: str = "errors"
) -> Usage:
    """One file through ``tier`` at ``executionLogs=level``, counted from its history (an Express
    execution's history is its log group, so an Express file is counted at ``all`` only)."""
    s3 = cloud.client("s3")
    counts.clear()
    meter = LogMeter(cloud)
    s3.put_object(Bucket=cloud.config.staging_bucket, Key=key, Body=body)
    if tier == "express":
        events = express_events(cloud, key)
        machine_log = meter.express_log_since()
    else:
        arn, history = standard_history(cloud, key)
        events = standard_events(history)
        machine_log = ingested(e["message"] for e in logged_events(history, arn, EXECUTION_LOGS[level]))
    usage = Usage(log_bytes=machine_log + meter.functions_since())
    if tier == "express":
        seconds = (events[-1]["at"] - events[0]["at"]).total_seconds()
        increment = prices.EXPRESS_BILLING_INCREMENT_SECONDS
        usage.express_seconds = max(math.ceil(seconds / increment) * increment, increment)
    else:
        usage.transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    # Pair each Lambda TaskScheduled with the next TaskSucceeded/TaskFailed.
    pending: list[tuple[str, Any]] = []
    for event in events:
        details = event["details"] if event["type"] == "TaskScheduled" else {}
        if details.get("resourceType") == "lambda":
            pending.append((json.loads(details["parameters"])["FunctionName"].rsplit(":", 1)[-1], event["at"]))
        elif event["type"] in ("TaskSucceeded", "TaskFailed") and pending:
            function, at = pending.pop(0)
            seconds = max((event["at"] - at).total_seconds(), 0.001)
            usage.invocations += 1
            usage.gb_seconds += seconds * MEMORY_MB[function] / 1024
    for event in events:
        if event["type"] == "TaskScheduled" and event["details"].get("resourceType") == "batch":
            begin = event["at"]
            end = next(
                e["at"] for e in events if e["id"] > event["id"] and e["type"] in ("TaskSucceeded", "TaskFailed")
            )
            usage.fargate_seconds = max((end - begin).total_seconds(), prices.FARGATE_MINIMUM_SECONDS)
    # The trigger: one invocation (256 MB, about 50 ms) and one SQS receive and delete per batch of files;
    # S3 sends one message per file.
    usage.invocations += 1 / TRIGGER_BATCH
    usage.gb_seconds += 0.05 * MEMORY_MB["filepipe-trigger"] / 1024 / TRIGGER_BATCH
    usage.sqs_requests = 1 + 2 / TRIGGER_BATCH
    usage.s3_write_class = counts["write"] - 1  # the upload itself is the client's, in both patterns
    usage.s3_read_class = counts["read"]
    usage.dynamodb_writes = counts["dynamodb_write"]
    return usage


def standard_history(cloud: LocalCloud, key: str) -> tuple[str, list[dict[str, Any]]]:
    """The key's Standard execution and its history, once it has ended."""
    sfn = cloud.client("stepfunctions")
    while True:
        listed = sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
        mine = [
            e
            for e in listed
            if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["key"] == key
        ]
        if mine and mine[0]["status"] != "RUNNING":
            break
        time.sleep(0.2)
    arn = mine[0]["executionArn"]
    return arn, list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def standard_events(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Standard execution's history events, as :func:`run_one` reads them."""
    return [
        {
            "id": e["id"],
            "type": e["type"],
            "at": e["timestamp"],
            "details": next((v for k, v in e.items() if k.endswith("EventDetails")), {}),
        }
        for e in history
    ]


def express_events(cloud: LocalCloud, key: str) -> list[dict[str, Any]]:
    """The key's Express execution's events from its log group (its only history), once ended."""
    logs = cloud.client("logs")
    while True:
        logged = [
            json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=cloud.express_log_group)["events"]
        ]
        arns = {
            e["execution_arn"]
            for e in logged
            if e["type"] == "ExecutionStarted" and json.loads(e["details"]["input"])["key"] == key
        }
        mine = sorted((e for e in logged if e["execution_arn"] in arns), key=lambda e: int(e["id"]))
        if mine and mine[-1]["type"] in ("ExecutionSucceeded", "ExecutionFailed"):
            break
        time.sleep(0.2)
    return [
        {
            "id": int(e["id"]),
            "type": e["type"],
            "at": datetime.fromtimestamp(int(e["event_timestamp"]) / 1000, UTC),
            "details": e["details"],
        }
        for e in mine
    ]


def express_log_bytes_quietly(cloud: LocalCloud, key: str, body: bytes) -> float:
    """The log bytes of one Express file at ``executionLogs=errors``, where its execution logs no
    success: it is followed to the archive (or the failure prefix) instead, then given a moment to end."""
    meter = LogMeter(cloud)
    s3 = cloud.client("s3")
    s3.put_object(Bucket=cloud.config.staging_bucket, Key=key, Body=body)
    layout = cloud.config.deployment.layout
    ended = (layout.original(key), layout.failed_copy(key))
    while not any(s3.list_objects_v2(Bucket=cloud.config.archive_bucket, Prefix=k).get("KeyCount") for k in ended):
        time.sleep(0.2)
    time.sleep(1.0)
    return meter.express_log_since() + meter.functions_since()


def ingested(messages: Any) -> int:
    """What CloudWatch Logs counts for these events: each message's UTF-8 bytes and 26 more."""
    return sum(len(m.encode("utf-8")) + prices.LOGS_EVENT_OVERHEAD_BYTES for m in messages)


def platform_lines(memory_mb: int) -> list[str]:
    """The system lines Lambda writes for each invocation in the JSON log format at the default
    system level (INFO): ``platform.start`` and ``platform.report``, with typical figures."""
    request, at = "0f6e3d7a-8c1b-4f0e-9a55-2b7c4e1d9f30", "2026-12-05T07:00:00.000Z"
    start = {"time": at, "type": "platform.start", "record": {"requestId": request, "version": "$LATEST"}}
    metrics = {"durationMs": 123.45, "billedDurationMs": 124, "memorySizeMB": memory_mb, "maxMemoryUsedMB": 112}
    report = {
        "time": at,
        "type": "platform.report",
        "record": {"requestId": request, "metrics": metrics, "status": "success"},
    }
    return [json.dumps(start, separators=(",", ":")), json.dumps(report, separators=(",", ":"))]


class LogMeter:
    """The log bytes one file's run adds: the Express log group's events and, for each function,
    what it printed and Lambda's system lines for its invocations (the trigger's shared by its
    batch of files)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.express_before = self._express_log()
        self.written_before = {
            name: w.bytes + w.lines * prices.LOGS_EVENT_OVERHEAD_BYTES for name, w in cloud.lambdas.written.items()
        }
        self.invocations_before = dict(cloud.lambdas.invocations)

    def _express_log(self) -> int:
        logs = self.cloud.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=self.cloud.express_log_group)
        return ingested(e["message"] for page in pages for e in page["events"])

    def express_log_since(self) -> int:
        return self._express_log() - self.express_before

    def functions_since(self) -> float:
        time.sleep(0.5)  # the functions' output is read on threads of its own
        total = 0.0
        for name, invoked in self.cloud.lambdas.invocations.items():
            calls = invoked - self.invocations_before.get(name, 0)
            written = self.cloud.lambdas.written[name]
            printed = (
                written.bytes + written.lines * prices.LOGS_EVENT_OVERHEAD_BYTES - self.written_before.get(name, 0)
            )
            share = 1 / TRIGGER_BATCH if name == LocalNaming.function_name("trigger") else 1
            total += share * (printed + calls * ingested(platform_lines(MEMORY_MB[name])))
        return total


def plain_pattern(pipeline: Usage) -> Usage:
    """One Lambda per file, invoked by S3: GET, PUT output, COPY, DELETE; same compute time. It
    logs Lambda's system lines for its one invocation and prints nothing of its own."""
    lambda_gb_seconds = pipeline.gb_seconds - 0.05 * MEMORY_MB["filepipe-trigger"] / 1024 / TRIGGER_BATCH
    system_lines = ingested(platform_lines(MEMORY_MB[LocalNaming.function_name("transform")]))
    return Usage(invocations=1, gb_seconds=lambda_gb_seconds, s3_write_class=2, s3_read_class=1, log_bytes=system_lines)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    config = LocalConfig(Deployment(large_file_threshold_bytes=1024 * 1024), port=0, runner="process")
    small_csv = b"a,b\n" + b"1,2\n" * 100
    with LocalCloud(config) as cloud:
        counts, route = request_counter((config.staging_bucket, config.archive_bucket))
        assert cloud.gateway is not None
        cloud.gateway.routes.insert(0, route)
        # One file first, unmeasured, so the measured ones find warm execution environments, as
        # nearly every file of a million does; again after each change of level (it restarts them).
        run_one(cloud, "cost/warm-up.csv", small_csv, counts)
        small = run_one(cloud, "cost/small.csv", small_csv, counts)
        large = run_one(cloud, "cost/large.csv", b"a,b\n" + b"1,2\n" * 400_000, counts)
        cloud.use_small_file_workflow("express")
        express_log_bytes_quietly(cloud, "cost/express-warm-up.csv", small_csv)
        express_quiet_log = express_log_bytes_quietly(cloud, "cost/express-quiet.csv", small_csv)
        failed_quiet_log = express_log_bytes_quietly(cloud, "cost/express-broken.csv", b"a,b\n1,2,3\n")
        cloud.use_execution_logs("all")
        run_one(cloud, "cost/express-warm-up-all.csv", small_csv, counts, tier="express", level="all")
        express_all = run_one(cloud, "cost/express.csv", small_csv, counts, tier="express", level="all")
        cloud.use_small_file_workflow("standard")
        run_one(cloud, "cost/warm-up-all.csv", small_csv, counts, level="all")
        small_all = run_one(cloud, "cost/small-all.csv", small_csv, counts, level="all")
        metric_series = custom_metrics(cloud.lambdas.metrics)
    express = replace(express_all, log_bytes=express_quiet_log)
    plain = plain_pattern(express)  # the same function time as the Express file it is set against
    print(f"cost model ({prices.AS_OF}; logs: {prices.CLOUDWATCH_AS_OF})")
    header = f"{'':27}{'transitions':>12}{'Express s':>10}{'Lambda inv':>11}{'GB-s':>8}{'S3 PUT/COPY':>12}"
    header += f"{'S3 GET/HEAD':>12}{'DDB writes':>11}{'SQS':>6}{'Fargate s':>10}{'log bytes':>10}{'logs $/1M':>10}"
    print(header + f"{'$ per 1M files':>16}")
    rows = (
        ("small file, Standard", small),
        ("small file, Express", express),
        ("large file (Batch)", large),
        ("plain pattern, small", plain),
        ("Standard, executionLogs=all", small_all),
        ("Express, executionLogs=all", express_all),
    )
    for name, usage in rows:
        print(
            f"{name:27}{usage.transitions:>12}{usage.express_seconds:>10.1f}{usage.invocations:>11.1f}"
            f"{usage.gb_seconds:>8.3f}{usage.s3_write_class:>12}{usage.s3_read_class:>12}{usage.dynamodb_writes:>11}"
            f"{usage.sqs_requests:>6.1f}{usage.fargate_seconds:>10.0f}{usage.log_bytes:>10,.0f}"
            f"{usage.log_dollars() * 1_000_000:>10.2f}{usage.dollars() * 1_000_000:>16.2f}"
        )
    print(
        f"logs at executionLogs=errors (the default): {RETENTION_MONTHS:.1f} months kept; a failed small file on "
        f"Express writes {failed_quiet_log:,.0f} bytes (its error events and the failure's warning)"
    )
    print(
        f"executionLogs=all adds ${(express_all.log_dollars() - express.log_dollars()) * 1e6:.2f} of logs per "
        f"million small files on Express, ${(small_all.log_dollars() - small.log_dollars()) * 1e6:.2f} on Standard"
    )
    print(
        f"Express over the plain pattern, logs included: {express.dollars() / plain.dollars():.2f}x "
        f"(target at most 1.5x; {express_all.dollars() / plain.dollars():.2f}x at executionLogs=all); "
        f"Standard: {small.dollars() / plain.dollars():.2f}x"
    )
    print()
    print_fixed_costs(fixed_costs(synthesized_template(), custom_metric_count=len(metric_series)))


if __name__ == "__main__":
    main()
