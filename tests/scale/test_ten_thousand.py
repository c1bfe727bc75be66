"""At scale: a backfill of 10,000 objects and a reprocess of all of them, on the local cloud with
AWS's limits enforced (a Distributed Map's results past 256 KiB must go to S3). Marked ``scale``:
``make test-scale`` runs it (CI does, after ``make test``); it takes about 15-25 minutes here."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target, start_backfill, start_reprocess
from tests.local.helpers import follow_map_run

pytestmark = [pytest.mark.local, pytest.mark.scale]
OBJECTS = 10_000
PREFIX = "scale/"


def count(target: Target, bucket: str, prefix: str) -> int:
    pages = target.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def succeeded(target: Target) -> int:
    pages = target.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=target.state_machine_arn, statusFilter="SUCCEEDED"
    )
    return sum(len(page["executions"]) for page in pages)


def wait_for(target: Target, executions: int, timeout: float) -> float:
    """Seconds until ``executions`` have succeeded and staging is empty."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if succeeded(target) >= executions and count(target, target.staging_bucket, "") == 0:
            return time.monotonic() - started
        time.sleep(5)
    raise AssertionError(f"{succeeded(target)} of {executions} executions succeeded in {timeout} s")


def map_results(target: Target, execution_arn: str) -> dict[str, int]:
    """The Map Run's ResultWriter files, counted by status (what the console links to)."""
    output = json.loads(target.sfn.describe_execution(executionArn=execution_arn)["output"])
    details = output["results"]["ResultWriterDetails"]
    manifest = json.loads(target.s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    counts = {}
    for status, files in manifest["ResultFiles"].items():
        counts[status] = sum(
            len(json.loads(target.s3.get_object(Bucket=details["Bucket"], Key=f["Key"])["Body"].read())) for f in files
        )
    return counts


def test_ten_thousand_objects_backfilled_then_reprocessed(cloud: LocalCloud, target: Target) -> None:
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket=target.staging_bucket, Key=f"{PREFIX}{i:05}.txt", Body=b"x"),
                range(OBJECTS),
            )
        )
    cloud.resources.notification()

    began = time.monotonic()
    run = start_backfill(target, prefix=PREFIX)
    items = follow_map_run(target, run, timeout=2400)
    assert (items["total"], items["failed"]) == (OBJECTS, 0)
    assert map_results(target, run) == {"SUCCEEDED": OBJECTS, "FAILED": 0, "PENDING": 0}
    wait_for(target, OBJECTS, timeout=2400)
    backfill_rate = OBJECTS / (time.monotonic() - began)
    assert count(target, target.archive_bucket, f"originals/{PREFIX}") == OBJECTS
    assert count(target, target.archive_bucket, "failed/") == 0

    began = time.monotonic()
    run = start_reprocess(target, "manifest", current_version="9", prefix=PREFIX)
    items = follow_map_run(target, run, timeout=2400)
    assert (items["total"], items["failed"]) == (OBJECTS, 0)
    wait_for(target, 2 * OBJECTS, timeout=2400)
    reprocess_rate = OBJECTS / (time.monotonic() - began)
    assert count(target, target.archive_bucket, f"originals/{PREFIX}") == OBJECTS
    assert count(target, target.archive_bucket, f"superseded/{PREFIX}") == 2 * OBJECTS, "an original and an output each"
    assert count(target, target.archive_bucket, "failed/") == 0
    print(f"\nbackfill: {backfill_rate:.1f} objects/s; reprocess: {reprocess_rate:.1f} objects/s")
