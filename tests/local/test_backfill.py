"""Files no event announced: a backfill of what was in staging before, and the sweep that finds a
file whose intake message was lost."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.local import LocalCloud, adapter
from filepipe.map_runs import map_progress, start_backfill
from filepipe.operations import Target
from tests.local.helpers import follow_map_run, settle
from tests.reliability.helpers import assert_conserved, upload

pytestmark = pytest.mark.local

FILES = 300


def sqs_depth(cloud: LocalCloud) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_a_backfill_processes_what_was_there_before_and_starts_nothing_twice(cloud: LocalCloud, target: Target) -> None:
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    before = [upload(target, f"before/{i:03}.csv", f"id,n\n{i},{i * i}\n".encode()) for i in range(FILES)]
    elsewhere = upload(target, "other/untouched.csv", b"a\n1\n")
    cloud.resources.notification()
    with cloud.intake_paused():
        announced = upload(target, "before/announced.csv", b"a\n2\n")
        items = follow_map_run(target, start_backfill(target, prefix="before/"))
    # The announced file's event, held back until the backfill had started it, now arrives too.
    assert items["total"] == FILES + 1 and items["failed"] == 0
    deadline = time.monotonic() + 30
    while sqs_depth(cloud) and time.monotonic() < deadline:
        time.sleep(0.2)
    views = settle(target, FILES + 1, timeout=240)
    assert len(views) == FILES + 1, "one execution each; the announced file's started nothing new"
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert [v["Key"] for v in s3.list_objects_v2(Bucket=target.staging_bucket)["Contents"]] == [elsewhere.key]
    s3.delete_object(Bucket=target.staging_bucket, Key=elsewhere.key, VersionId=elsewhere.version_id)
    assert_conserved(target, [*before, announced])


def test_the_sweep_recovers_a_file_whose_message_was_lost(cloud: LocalCloud, target: Target) -> None:
    sqs = cloud.client("sqs")
    with cloud.intake_paused():
        lost = upload(target, "sweep/lost.csv", b"a\n1\n")
        deleted = 0
        while deleted == 0:
            for message in sqs.receive_message(QueueUrl=cloud.queue_url, WaitTimeSeconds=1).get("Messages", []):
                sqs.delete_message(QueueUrl=cloud.queue_url, ReceiptHandle=message["ReceiptHandle"])
                deleted += "sweep/lost.csv" in message["Body"] or "sweep%2Flost.csv" in message["Body"]
    fresh = upload(target, "sweep/fresh.csv", b"a\n2\n")
    (handled,) = settle(target, 1)
    assert handled.key == fresh.key, "only the fresh upload's event arrived"
    time.sleep(2)
    items = follow_map_run(target, start_backfill(target, older_than_seconds=2, reason="sweep"))
    assert items["total"] == 1 and items["succeeded"] == 1, "the archived file is gone; the lost one is listed"
    views = settle(target, 2)
    assert {v.key: v.status for v in views} == {lost.key: "SUCCEEDED", fresh.key: "SUCCEEDED"}
    recovered = [m for m in cloud.lambdas.metrics if "FilesStartedFromListing" in m]
    assert [(m["reason"], m["FilesStartedFromListing"]) for m in recovered] == [("sweep", [1.0])]
    assert_conserved(target, [lost, fresh])


def inventory_report(target: Target, cloud: LocalCloud, rows: list[list[str]]) -> str:
    """An S3 Inventory report (CSV) of the staging bucket in a bucket of its own, as S3 writes
    one: gzip data files without a header, keys URL-encoded, a manifest.json naming them."""
    s3 = target.s3
    s3.create_bucket(Bucket="inventory")
    data = "inventory/staging/daily/data/0001.csv.gz"
    text = "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows)
    s3.put_object(Bucket="inventory", Key=data, Body=gzip.compress(text.encode()))
    manifest = {
        "sourceBucket": target.staging_bucket,
        "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
        "files": [{"key": data, "size": 1, "MD5checksum": "x"}],
    }
    key = "inventory/staging/daily/2026-11-28T00-00Z/manifest.json"
    s3.put_object(Bucket="inventory", Key=key, Body=json.dumps(manifest).encode())
    return f"s3://inventory/{key}"


def test_a_backfill_from_a_key_list_or_an_inventory_starts_exactly_those_keys(
    cloud: LocalCloud, target: Target, tmp_path: Path
) -> None:
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    awkward = ("m/a.csv", "m/b c+d.csv", 'm/é,"q".csv', "m/ back\\slash\ttab\\ .csv", "m/e\u0301.csv")
    listed = [upload(target, key, b"a\n1\n") for key in awkward]
    unlisted = upload(target, "m/unlisted.csv", b"a\n2\n")
    cloud.resources.notification()
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{listed[0].key}\n\n{listed[1].key}\r\n{listed[3].key}\n{listed[4].key}\n", encoding="utf-8")

    def backfill(*args: str) -> str:
        result = CliRunner().invoke(main, ["backfill", *args, "--endpoint", cloud.endpoint])
        assert result.exit_code == 0, result.output
        return result.output

    told = backfill("--manifest", str(keys))
    assert "backfill succeeded: 4 listed" in told and _count(told, "started") == 4, "each key read back whole"
    assert {v.key for v in settle(target, 4)} == {listed[i].key for i in (0, 1, 3, 4)}

    report = inventory_report(
        target,
        cloud,
        [
            [target.staging_bucket, quote_plus(listed[2].key), listed[2].version_id, "true", "false", "4"],
            [target.staging_bucket, quote_plus(listed[0].key), listed[0].version_id, "true", "false", "4"],
            [target.staging_bucket, quote_plus(unlisted.key), "old", "false", "false", "4"],
            [target.staging_bucket, quote_plus("m/deleted.csv"), "dm", "true", "true", ""],
            ["another-bucket", quote_plus(unlisted.key), "v", "true", "false", "4"],
        ],
    )
    told = backfill("--inventory", report)
    assert "backfill succeeded: 2 listed" in told
    assert (_count(told, "started"), _count(told, "gone")) == (1, 1), "the archived key is out of staging"
    views = settle(target, 5)
    assert {v.key for v in views} == {u.key for u in listed}, "the archived key started nothing new"
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert [v["Key"] for v in s3.list_objects_v2(Bucket=target.staging_bucket)["Contents"]] == [unlisted.key]
    s3.delete_object(Bucket=target.staging_bucket, Key=unlisted.key, VersionId=unlisted.version_id)
    assert_conserved(target, listed)


def test_a_manifest_without_keys_or_with_another_source_is_refused(
    cloud: LocalCloud, target: Target, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["backfill", "--manifest", str(empty), "--endpoint", cloud.endpoint])
    assert result.exit_code == 1 and "the manifest lists no keys" in result.output
    both = CliRunner().invoke(
        main, ["backfill", "--manifest", str(empty), "--prefix", "a/", "--endpoint", cloud.endpoint]
    )
    assert both.exit_code == 2 and "choose one source" in both.output
    bad = CliRunner().invoke(main, ["backfill", "--inventory", "s3://inventory/x.csv", "--endpoint", cloud.endpoint])
    assert bad.exit_code == 1 and "s3://BUCKET/.../manifest.json" in bad.output
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix=target.layout.manifests).get("Contents")
    assert not target.sfn.list_executions(stateMachineArn=target.backfill_state_machine_arn)["executions"]


class TriggerRefused(Exception):
    """A stand-in for an item the trigger cannot start (not transient, so not retried)."""


@pytest.mark.parametrize(("status", "shipped"), [("FAILED", False), ("SUCCEEDED", True)])
def test_a_backfill_fails_once_more_items_fail_than_it_tolerates(
    cloud: LocalCloud, target: Target, monkeypatch: pytest.MonkeyPatch, status: str, shipped: bool
) -> None:
    """ToleratedFailurePercentage is 5, and the 30 objects are one batch (the machine's
    ItemBatcher): one object the trigger refuses fails its batch, 30 of 30 items. The canary
    (``shipped``) runs moto's own Map Run, which ends SUCCEEDED whatever failed: why
    _map_run_within_tolerance exists; drop it when that case fails. (A failure within the
    tolerance: tests/local/test_moto_adapter.py, where a Map Run has batches to spare.)"""
    if shipped:
        monkeypatch.setattr(adapter.map_redrive, "_original_map_run", adapter.stepfunctions._original_map_run)
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    items = [upload(target, f"tol/{i:02}.csv", f"a\n{i}\n".encode()) for i in range(30)]
    cloud.resources.notification()
    failing = {items[0].key}

    def refuse(function: str, event: Any) -> None:
        if function == "filepipe-trigger" and {i.get("Key") for i in event.get("Items", [])} & failing:
            raise TriggerRefused("this item cannot be started")

    cloud.lambdas.interceptors.append(refuse)
    arn = start_backfill(target, prefix="tol/")
    deadline = time.monotonic() + 120
    while not (progress := map_progress(target, arn)).done:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert (progress.status, progress.items["failed"], progress.items["total"]) == (status, 30, 30)
    if not shipped:
        assert progress.error == "States.ExceedToleratedFailureThreshold"
    assert target.sfn.list_executions(stateMachineArn=target.state_machine_arn)["executions"] == []


def test_a_version_no_event_announced_takes_the_main_name_over_an_older_archived_one(
    cloud: LocalCloud, target: Target
) -> None:
    """v1 is archived from its event; v2 lands without one and is backfilled: v2 holds
    ``originals/<key>`` and v1 is kept under ``superseded/`` (before, the version with no
    sequencer counted as older and v2 was filed as superseded). Then a live upload v3 arrives
    while a backfill of the key runs: the newest, v3, ends with the main name."""
    s3 = target.s3
    v1 = upload(target, "order/k.csv", b"id\n1\n")
    settle(target, 1)
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    time.sleep(1.1)  # S3's Last-Modified has one-second steps
    v2 = upload(target, "order/k.csv", b"id\n2\n")
    cloud.resources.notification()
    follow_map_run(target, start_backfill(target, prefix="order/"))
    settle(target, 2)
    assert s3.get_object(Bucket=target.archive_bucket, Key="originals/order/k.csv")["Body"].read() == b"id\n2\n"
    kept = f"superseded/order/k.csv/{v1.version_id}/original"
    assert s3.get_object(Bucket=target.archive_bucket, Key=kept)["Body"].read() == b"id\n1\n"

    with cloud.intake_paused():
        time.sleep(1.1)
        v3 = upload(target, "order/k.csv", b"id\n3\n")
        s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
        time.sleep(1.1)
        v4 = upload(target, "order/k.csv", b"id\n4\n")  # no event: only the backfill finds it
        cloud.resources.notification()
        follow_map_run(target, start_backfill(target, prefix="order/"))
    views = settle(target, 4)
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert s3.get_object(Bucket=target.archive_bucket, Key="originals/order/k.csv")["Body"].read() == b"id\n4\n"
    assert_conserved(target, [v1, v2, v3, v4])


def _count(told: str, label: str) -> int:
    """The number the CLI's table gives ``label`` (the line that starts with it)."""
    (line,) = [line for line in told.splitlines() if line.strip().startswith(label)]
    return int(line.split()[-1])


def test_the_counts_say_what_happened_to_each_key_and_nothing_listed_is_success(
    cloud: LocalCloud, target: Target, tmp_path: Path
) -> None:
    """Too young, gone and already-started keys are counted as such, not as handed on; a prefix
    with nothing under it lists 0 and succeeds, as a Map over no items does in AWS."""
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    young = upload(target, "counts/young.csv", b"a\n1\n")
    cloud.resources.notification()
    run = CliRunner().invoke(main, ["backfill", "--older-than", "60", "--json", "--endpoint", cloud.endpoint])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert report["status"] == "SUCCEEDED"
    assert report["counts"] | {"errors": {}} == {
        "listed": 1,
        "started": 0,
        "duplicates": 0,
        "young": 1,
        "gone": 0,
        "failedItems": 0,
        "errors": {},
    }
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{young.key}\ncounts/never-uploaded.csv\n", encoding="utf-8")
    told = CliRunner().invoke(main, ["backfill", "--manifest", str(keys), "--endpoint", cloud.endpoint]).output
    assert (_count(told, "started"), _count(told, "gone")) == (1, 1), told
    settle(target, 1)
    empty = CliRunner().invoke(main, ["backfill", "--prefix", "nothing-here/", "--endpoint", cloud.endpoint])
    assert empty.exit_code == 0, empty.output
    assert "backfill succeeded: 0 listed" in empty.output
