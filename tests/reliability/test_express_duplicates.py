"""Express executions are at-least-once, and AWS runs two started with the same name: duplicates
started on purpose, alongside redelivered events, end with one processing and nothing lost."""

from __future__ import annotations

import json
import threading
import time

import pytest

from filepipe.events import ObjectRef, execution_name
from filepipe.local import LocalCloud
from filepipe.operations import ExecutionView, Target, express_executions
from tests.local.helpers import TERMINAL, notification_for
from tests.reliability.helpers import Uploaded, assert_conserved, upload

pytestmark = pytest.mark.local

DUPLICATES = 4


def run_duplicates(cloud: LocalCloud, target: Target) -> tuple[list[Uploaded], list[ExecutionView]]:
    """Three small files, each started on the Express machine by its upload, by a redelivered
    event and by ``DUPLICATES`` concurrent StartExecution calls with its name and input."""
    cloud.use_small_file_workflow("express")
    # Every execution's history, duplicates' too: at executionLogs=errors only the one holding the
    # claim leaves a trace of its success.
    cloud.use_execution_logs("all")
    files = [upload(target, f"dup/{i}.csv", f"id,v\n{i},x\n".encode()) for i in range(3)]
    head = {u.key: target.s3.head_object(Bucket=target.staging_bucket, Key=u.key) for u in files}
    states = [
        {
            "bucket": target.staging_bucket,
            "key": u.key,
            "versionId": u.version_id,
            "etag": head[u.key]["ETag"].strip('"'),
            "size": len(u.body),
            "sequencer": "0A",
            "eventTime": "2026-11-28T00:00:00.000Z",
        }
        for u in files
    ]

    def start(state: dict[str, object]) -> None:
        name = execution_name(ObjectRef.from_state(state))
        target.sfn.start_execution(stateMachineArn=cloud.express_state_machine_arn, name=name, input=json.dumps(state))

    sqs = cloud.client("sqs")
    threads = [threading.Thread(target=start, args=(s,)) for s in states for _ in range(DUPLICATES)]
    for thread in threads:
        thread.start()
    for state in states:
        sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=json.dumps(notification_for(state)))
    for thread in threads:
        thread.join()

    expected = len(files) * (DUPLICATES + 2)  # the upload's own event, the redelivery, the direct starts
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        views = [v for v in express_executions(target) if v.status in TERMINAL]
        if len(views) >= expected:
            break
        time.sleep(0.3)
    assert len(views) == expected, f"{len(views)} of {expected} Express executions ended"
    return files, views


def test_concurrent_duplicate_executions_process_a_version_once(cloud: LocalCloud, target: Target) -> None:
    files, views = run_duplicates(cloud, target)
    assert all(v.status == "SUCCEEDED" for v in views), [(v.key, v.status, v.error) for v in views]
    for u in files:
        mine = [v for v in views if v.key == u.key]
        archived = [v for v in mine if v.outcome == f"originals/{u.key}"]
        duplicates = [v for v in mine if v.outcome and v.outcome.startswith("duplicate")]
        assert len(archived) == 1 and len(duplicates) == len(mine) - 1, [(v.name, v.outcome) for v in mine]
        originals = target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix=f"originals/{u.key}")
        assert len(originals["Versions"]) == 1, "the original was copied into the archive once"
    assert_conserved(target, files)


def test_control_without_the_claim_duplicates_do_process_twice(cloud: LocalCloud, target: Target) -> None:
    """The test above can fail: with the claims table unset, several of the same duplicates
    process one version (each transforms it and ends "archived")."""
    cloud.lambdas.update_environment(cloud.functions["transform"].name, {"CLAIMS_TABLE": ""})
    files, views = run_duplicates(cloud, target)
    archived = [v for v in views if v.outcome and v.outcome.startswith("originals/")]
    assert len(archived) > len(files), [(v.key, v.outcome) for v in views]
