"""What one file costs: counted from a real run in the local cloud, priced with bench/prices.py.

    .venv/bin/python bench/cost_model.py

For a small file (Lambda path) and a large one (Batch path) it counts, from the executed history
and the requests the local endpoint served: state transitions, Lambda invocations and GB-seconds
(local durations in warm environments, at the stack's memory sizes), S3 requests by price class,
SQS requests, and Fargate time for the Batch job; then dollars per million files, beside the
plain pattern of one S3-triggered Lambda that transforms, copies and deletes (same S3 work, no
queue, no workflow).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from bench import prices
from filepipe.local import FUNCTIONS, LocalCloud, LocalConfig

MEMORY_MB = {f.name: f.memory_mb for f in FUNCTIONS.values()}
BATCH_VCPUS, BATCH_MEMORY_GB = 2, 4
TRIGGER_BATCH = 10
"""Files per trigger invocation and per SQS receive/delete, with the stack's batch size."""


@dataclass
class Usage:
    transitions: int = 0
    invocations: float = 0
    gb_seconds: float = 0
    s3_write_class: int = 0
    s3_read_class: int = 0
    sqs_requests: float = 0
    fargate_seconds: float = 0

    def dollars(self) -> float:
        return (
            self.transitions * prices.STEP_FUNCTIONS_STANDARD_PER_TRANSITION
            + self.invocations * prices.LAMBDA_PER_REQUEST
            + self.gb_seconds * prices.LAMBDA_PER_GB_SECOND
            + self.s3_write_class * prices.S3_PUT_COPY_POST_LIST_PER_REQUEST
            + self.s3_read_class * prices.S3_GET_HEAD_PER_REQUEST
            + self.sqs_requests * prices.SQS_PER_REQUEST
            + self.fargate_seconds
            / 3600
            * (BATCH_VCPUS * prices.FARGATE_PER_VCPU_HOUR + BATCH_MEMORY_GB * prices.FARGATE_PER_GB_HOUR)
        )


def s3_counter(buckets: tuple[str, ...]) -> tuple[Counter[str], Callable[..., None]]:
    counts: Counter[str] = Counter()

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if any(path.startswith(f"/{b}") for b in buckets):
            counts["read" if method in ("GET", "HEAD") else "free" if method == "DELETE" else "write"] += 1
        return None

    return counts, route


def run_one(cloud: LocalCloud, key: str, body: bytes, counts: Counter[str]) -> Usage:
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    counts.clear()
    s3.put_object(Bucket=cloud.config.staging_bucket, Key=key, Body=body)
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
    events = sfn.get_execution_history(executionArn=mine[0]["executionArn"], maxResults=1000)["events"]
    usage = Usage(transitions=sum(1 for e in events if e["type"].endswith("StateEntered")))
    # Pair each Lambda TaskScheduled with the next TaskSucceeded/TaskFailed.
    pending: list[tuple[str, Any]] = []
    for event in events:
        details = event.get("taskScheduledEventDetails")
        if details and details["resourceType"] == "lambda":
            pending.append((json.loads(details["parameters"])["FunctionName"].rsplit(":", 1)[-1], event["timestamp"]))
        elif event["type"] in ("TaskSucceeded", "TaskFailed") and pending:
            function, at = pending.pop(0)
            seconds = max((event["timestamp"] - at).total_seconds(), 0.001)
            usage.invocations += 1
            usage.gb_seconds += seconds * MEMORY_MB[function] / 1024
    for event in events:
        if event.get("taskScheduledEventDetails", {}).get("resourceType") == "batch":
            begin = event["timestamp"]
            end = next(
                e["timestamp"] for e in events if e["id"] > event["id"] and e["type"] in ("TaskSucceeded", "TaskFailed")
            )
            usage.fargate_seconds = max((end - begin).total_seconds(), prices.FARGATE_MINIMUM_SECONDS)
    # The trigger: one invocation (256 MB, about 50 ms) and one SQS receive and delete per batch of files;
    # S3 sends one message per file.
    usage.invocations += 1 / TRIGGER_BATCH
    usage.gb_seconds += 0.05 * MEMORY_MB["filepipe-trigger"] / 1024 / TRIGGER_BATCH
    usage.sqs_requests = 1 + 2 / TRIGGER_BATCH
    usage.s3_write_class = counts["write"] - 1  # the upload itself is the client's, in both patterns
    usage.s3_read_class = counts["read"]
    return usage


def plain_pattern(pipeline: Usage) -> Usage:
    """One Lambda per file, invoked by S3: GET, PUT output, COPY, DELETE; same compute time."""
    lambda_gb_seconds = pipeline.gb_seconds - 0.05 * MEMORY_MB["filepipe-trigger"] / 1024 / TRIGGER_BATCH
    return Usage(invocations=1, gb_seconds=lambda_gb_seconds, s3_write_class=2, s3_read_class=1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    config = LocalConfig(port=0, runner="process", large_file_threshold_bytes=1024 * 1024)
    with LocalCloud(config) as cloud:
        counts, route = s3_counter((config.staging_bucket, config.archive_bucket))
        assert cloud.gateway is not None
        cloud.gateway.routes.insert(0, route)
        # One file first, unmeasured, so the measured ones find warm execution environments, as
        # nearly every file of a million does.
        run_one(cloud, "cost/warm-up.csv", b"a,b\n" + b"1,2\n" * 100, counts)
        small = run_one(cloud, "cost/small.csv", b"a,b\n" + b"1,2\n" * 100, counts)
        large = run_one(cloud, "cost/large.csv", b"a,b\n" + b"1,2\n" * 400_000, counts)
    plain = plain_pattern(small)
    print(f"cost model ({prices.AS_OF})")
    header = f"{'':24}{'transitions':>12}{'Lambda inv':>11}{'GB-s':>8}{'S3 PUT/COPY':>12}{'S3 GET/HEAD':>12}"
    print(header + f"{'SQS':>6}{'Fargate s':>10}{'$ per 1M files':>16}")
    for name, usage in (("small file (Lambda)", small), ("large file (Batch)", large), ("plain pattern, small", plain)):
        print(
            f"{name:24}{usage.transitions:>12}{usage.invocations:>11.1f}{usage.gb_seconds:>8.3f}"
            f"{usage.s3_write_class:>12}{usage.s3_read_class:>12}{usage.sqs_requests:>6.1f}"
            f"{usage.fargate_seconds:>10.0f}{usage.dollars() * 1_000_000:>16.2f}"
        )


if __name__ == "__main__":
    main()
