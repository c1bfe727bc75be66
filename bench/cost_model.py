"""What one file costs: counted from a real run in the local cloud, priced with bench/prices.py.

    .venv/bin/python bench/cost_model.py

For a small file on each tier (the Standard machine, and the Express one: ``smallFileWorkflow``)
and a large one (Batch path) it counts, from the executed history (an Express execution's from
its log group, as in AWS) and the requests the local endpoint served: state transitions, Express
requests and duration, Lambda invocations and GB-seconds (local durations in warm environments,
at the stack's memory sizes), S3 requests by price class, DynamoDB writes (the claim), SQS
requests, and Fargate time for the Batch job; then dollars per million files, beside the plain
pattern of one S3-triggered Lambda that transforms, copies and deletes (same S3 work, no queue,
no workflow).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from bench import prices
from filepipe.deployment import Deployment
from filepipe.local import LocalCloud, LocalConfig
from filepipe.local.config import LocalNaming

MEMORY_MB = {LocalNaming.function_name(p): spec.memory_mb for p, spec in Deployment().functions().items()}
BATCH_VCPUS, BATCH_MEMORY_GB = 2, 4
TRIGGER_BATCH = 10
"""Files per trigger invocation and per SQS receive/delete, with the stack's batch size."""


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

    def dollars(self) -> float:
        express = (
            prices.STEP_FUNCTIONS_EXPRESS_PER_REQUEST
            + self.express_seconds * prices.EXPRESS_MEMORY_GB * prices.STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND
            if self.express_seconds
            else 0.0
        )
        return (
            express
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


def run_one(cloud: LocalCloud, key: str, body: bytes, counts: Counter[str], tier: str = "standard") -> Usage:
    s3 = cloud.client("s3")
    counts.clear()
    s3.put_object(Bucket=cloud.config.staging_bucket, Key=key, Body=body)
    events = express_events(cloud, key) if tier == "express" else standard_events(cloud, key)
    usage = Usage()
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


def standard_events(cloud: LocalCloud, key: str) -> list[dict[str, Any]]:
    """The key's Standard execution's history, once it has ended."""
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
    history = sfn.get_execution_history(executionArn=mine[0]["executionArn"], maxResults=1000)["events"]
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


def plain_pattern(pipeline: Usage) -> Usage:
    """One Lambda per file, invoked by S3: GET, PUT output, COPY, DELETE; same compute time."""
    lambda_gb_seconds = pipeline.gb_seconds - 0.05 * MEMORY_MB["filepipe-trigger"] / 1024 / TRIGGER_BATCH
    return Usage(invocations=1, gb_seconds=lambda_gb_seconds, s3_write_class=2, s3_read_class=1)


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
        # nearly every file of a million does.
        run_one(cloud, "cost/warm-up.csv", small_csv, counts)
        small = run_one(cloud, "cost/small.csv", small_csv, counts)
        large = run_one(cloud, "cost/large.csv", b"a,b\n" + b"1,2\n" * 400_000, counts)
        cloud.use_small_file_workflow("express")
        run_one(cloud, "cost/express-warm-up.csv", small_csv, counts, tier="express")
        express = run_one(cloud, "cost/express.csv", small_csv, counts, tier="express")
    plain = plain_pattern(small)
    print(f"cost model ({prices.AS_OF})")
    header = f"{'':27}{'transitions':>12}{'Express s':>10}{'Lambda inv':>11}{'GB-s':>8}{'S3 PUT/COPY':>12}"
    print(header + f"{'S3 GET/HEAD':>12}{'DDB writes':>11}{'SQS':>6}{'Fargate s':>10}{'$ per 1M files':>16}")
    rows = (
        ("small file, Standard", small),
        ("small file, Express", express),
        ("large file (Batch)", large),
        ("plain pattern, small", plain),
    )
    for name, usage in rows:
        print(
            f"{name:27}{usage.transitions:>12}{usage.express_seconds:>10.1f}{usage.invocations:>11.1f}"
            f"{usage.gb_seconds:>8.3f}{usage.s3_write_class:>12}{usage.s3_read_class:>12}{usage.dynamodb_writes:>11}"
            f"{usage.sqs_requests:>6.1f}{usage.fargate_seconds:>10.0f}{usage.dollars() * 1_000_000:>16.2f}"
        )
    print(
        f"Express over the plain pattern: {express.dollars() / plain.dollars():.2f}x "
        f"(target at most 1.5x); Standard: {small.dollars() / plain.dollars():.2f}x"
    )


if __name__ == "__main__":
    main()
