"""At scale: a backfill of 10,000 objects and a reprocess of all of them, on the local cloud with
AWS's limits enforced (a Distributed Map's results past 256 KiB must go to S3; its children take
batches, as the machines' ItemBatcher asks). Marked ``scale``: ``make test-scale`` runs it (CI
does, after ``make test``). It prints objects per second for each (docs/benchmarks.md)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from filepipe.local import LocalCloud
from filepipe.map_results import map_counts
from filepipe.map_runs import start_backfill, start_reprocess
from filepipe.operations import Target
from tests.local.helpers import follow_map_run

pytestmark = [pytest.mark.local, pytest.mark.scale]
OBJECTS = int(os.environ.get("FILEPIPE_SCALE_OBJECTS", "10000"))
"""10,000 by default (issue 22); fewer to try a change quickly."""
PREFIX = "scale/"
TIMEOUT = 1800


def keys(target: Target, bucket: str, prefix: str) -> list[str]:
    pages = target.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def succeeded(target: Target) -> int:
    pages = target.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=target.state_machine_arn, statusFilter="SUCCEEDED"
    )
    return sum(len(page["executions"]) for page in pages)


def wait_for(target: Target, executions: int) -> None:
    """Until staging is empty and ``executions`` have succeeded, printing progress each minute.

    It watches staging, which empties as files are archived: listing every execution is a call
    per hundred, and polled every few seconds it cost the local cloud a share of its one core."""
    started, shown = time.monotonic(), 0.0
    while time.monotonic() - started < TIMEOUT:
        waiting = len(keys(target, target.staging_bucket, ""))
        if not waiting and succeeded(target) >= executions:
            return
        if time.monotonic() - shown > 60:
            print(f"  {waiting} files in staging after {time.monotonic() - started:.0f} s", flush=True)
            shown = time.monotonic()
        time.sleep(10)
    raise AssertionError(f"{succeeded(target)} of {executions} executions succeeded in {TIMEOUT} s")


def test_ten_thousand_objects_backfilled_then_reprocessed(cloud: LocalCloud, target: Target) -> None:
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    with ThreadPoolExecutor(16) as pool:
        uploaded = dict(
            pool.map(
                lambda i: (
                    f"{PREFIX}{i:05}.txt",
                    s3.put_object(Bucket=target.staging_bucket, Key=f"{PREFIX}{i:05}.txt", Body=b"x")["VersionId"],
                ),
                range(OBJECTS),
            )
        )
    cloud.resources.notification()

    began = time.monotonic()
    run = start_backfill(target, prefix=PREFIX)
    items = follow_map_run(target, run, timeout=TIMEOUT, interval=5)
    assert (items["total"], items["failed"]) == (OBJECTS, 0)
    counts = map_counts(s3, target.sfn, run)
    assert (dict(counts.by_outcome), counts.failed_items) == (
        {"started": OBJECTS, "duplicates": 0, "young": 0, "gone": 0},
        0,
    ), "the counts add up to the listing"
    wait_for(target, OBJECTS)
    backfill_rate = OBJECTS / (time.monotonic() - began)
    assert len(keys(target, target.archive_bucket, f"originals/{PREFIX}")) == OBJECTS
    assert keys(target, target.archive_bucket, "failed/") == []

    began = time.monotonic()
    run = start_reprocess(target, "manifest", current_version="9", prefix=PREFIX)
    items = follow_map_run(target, run, timeout=TIMEOUT, interval=5)
    assert (items["total"], items["failed"]) == (OBJECTS, 0)
    counts = map_counts(s3, target.sfn, run)
    assert (counts.by_outcome["reprocessed"], sum(counts.by_outcome.values()), counts.failed_items) == (
        OBJECTS,
        OBJECTS,
        0,
    )
    wait_for(target, 2 * OBJECTS)
    reprocess_rate = OBJECTS / (time.monotonic() - began)

    # Conservation: each uploaded version is in exactly one place. After the reprocess it is the
    # superseded original named by its own version (the copy sent back took originals/); staging
    # holds nothing, and nothing failed.
    superseded = keys(target, target.archive_bucket, f"superseded/{PREFIX}")
    kept = {tuple(k.removeprefix("superseded/").rsplit("/", 2)[:2]) for k in superseded if k.endswith("/original")}
    assert kept == set(uploaded.items())
    assert len(superseded) == 2 * OBJECTS, "an original and an output each"
    assert len(keys(target, target.archive_bucket, f"originals/{PREFIX}")) == OBJECTS
    versions = s3.list_object_versions(Bucket=target.staging_bucket)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert keys(target, target.archive_bucket, "failed/") == []
    print(f"\nbackfill: {backfill_rate:.1f} objects/s; reprocess: {reprocess_rate:.1f} objects/s")
