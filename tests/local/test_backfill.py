"""Files no event announced: a backfill of what was in staging before, and the sweep that finds a
file whose intake message was lost."""

from __future__ import annotations

import time

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target, start_backfill
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
    cloud.create_resources_notification()
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
