"""Faults injected into the local cloud: duplicates, racing versions, transient and permanent
failures, Batch exits and kills, throttled starts, crashed handlers, bad input. Each test ends
by checking that every uploaded version is in exactly one place."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from filepipe.errors import TransientError
from filepipe.local import LocalCloud
from filepipe.local.batch import AttemptResult, LocalJob
from filepipe.local.gateway import respond
from filepipe.operations import Target, error_records
from filepipe.retries import retry
from tests.local.helpers import THRESHOLD, notification_for, settle
from tests.reliability.helpers import archived_version, assert_conserved, places, upload

pytestmark = pytest.mark.local


def csv_rows(n: int, tag: str = "") -> bytes:
    return ("id,label\n" + "".join(f"{i},{tag}{i}\n" for i in range(n))).encode()


def history(target: Target, arn: str) -> list[dict[str, Any]]:
    return list(target.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def failed_tasks(target: Target, arn: str) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in history(target, arn) if "taskFailedEventDetails" in e]


def test_the_same_event_delivered_twice_and_redelivered_starts_one_processing(
    cloud: LocalCloud, target: Target
) -> None:
    item = upload(target, "dup.csv", csv_rows(3))
    (view,) = settle(target, 1)
    state = json.loads(target.sfn.describe_execution(executionArn=view.arn)["input"])
    body = json.dumps(notification_for(state))
    twice = {"Records": [_sqs(body, "m-1"), _sqs(body, "m-2")]}
    for _ in range(2):  # the same batch, then its redelivery
        result = cloud.lambdas.invoke("filepipe-trigger", json.dumps(twice).encode())
        assert json.loads(result.payload) == {"batchItemFailures": []}
    time.sleep(1)
    assert len(target.sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]) == 1
    assert cloud.lambdas.invocations["filepipe-transform"] == 1
    assert_conserved(target, [item])


def _sqs(body: str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:filepipe-intake",
        "awsRegion": "us-east-1",
    }


def test_a_second_version_arriving_while_the_first_is_processing(cloud: LocalCloud, target: Target) -> None:
    first_started, release = threading.Event(), threading.Event()
    versions: dict[str, str] = {}

    def hold_first_version(function: str, event: Any) -> None:
        if function == "filepipe-transform" and event["object"]["versionId"] == versions.get("v1"):
            first_started.set()
            release.wait(60)

    cloud.lambdas.interceptors.append(hold_first_version)
    v1 = upload(target, "race.csv", csv_rows(5, "old-"))
    versions["v1"] = v1.version_id
    assert first_started.wait(30), "the first version's transform started"
    v2 = upload(target, "race.csv", csv_rows(7, "new-"))
    deadline = time.monotonic() + 30
    while archived_version(target, "race.csv") != v2.version_id:
        assert time.monotonic() < deadline, "the second version was archived while the first waited"
        time.sleep(0.2)
    release.set()
    views = settle(target, 2)
    assert [v.status for v in views] == ["SUCCEEDED", "SUCCEEDED"]
    newest = target.s3.get_object(Bucket=target.archive_bucket, Key="originals/race.csv")["Body"].read()
    assert newest == v2.body, "the archive ends with the newer version"
    assert places(target, v1) == [f"superseded/race.csv/{v1.version_id}/original"]
    output = target.s3.head_object(Bucket=target.archive_bucket, Key="outputs/race.csv/data.parquet")["Metadata"]
    assert output["filepipe-source-version"] == v2.version_id
    assert_conserved(target, [v1, v2])


def fail_times(function: str, times: int, error: Callable[[], BaseException]) -> Callable[[str, Any], None]:
    remaining = {"n": times}

    def intercept(name: str, event: Any) -> None:
        if name == function and remaining["n"] > 0:
            remaining["n"] -= 1
            raise error()

    return intercept


def test_a_transform_failing_transiently_twice_is_retried_and_archived(cloud: LocalCloud, target: Target) -> None:
    cloud.lambdas.interceptors.append(
        fail_times("filepipe-transform", 2, lambda: TransientError("S3 answered 503 SlowDown"))
    )
    item = upload(target, "flaky.csv", csv_rows(3))
    (view,) = settle(target, 1, timeout=90)
    assert view.status == "SUCCEEDED"
    assert failed_tasks(target, view.arn) == ["TransientError", "TransientError"], "the retries are in the history"
    assert_conserved(target, [item])


def test_a_crashed_handler_process_is_retried_without_moving_twice(
    cloud: LocalCloud, target: Target, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    cloud.lambdas.update_environment(
        "filepipe-archive",
        {"FILEPIPE_LAMBDA_PRELOAD": "tests.reliability.crash_after_copy", "FILEPIPE_TEST_CRASH_MARKER": str(marker)},
    )
    item = upload(target, "crash.txt", b"payload")
    (view,) = settle(target, 1, timeout=90)
    assert marker.exists(), "an archive environment died between its copy and its delete"
    assert view.status == "SUCCEEDED"
    assert failed_tasks(target, view.arn) == ["Runtime.ExitError"]
    assert len(target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix="originals/")["Versions"]) == 1
    assert_conserved(target, [item])


def batch_attempts(results: Iterable[AttemptResult | None]) -> Callable[[LocalJob, int], AttemptResult | None]:
    planned = list(results)

    def intercept(job: LocalJob, attempt: int) -> AttemptResult | None:
        return planned[attempt - 1] if attempt <= len(planned) else None

    return intercept


def test_a_batch_job_exiting_transiently_is_retried_by_the_job_strategy(cloud: LocalCloud, target: Target) -> None:
    assert cloud.batch is not None
    cloud.batch.interceptors.append(batch_attempts([AttemptResult(75, "Essential container in task exited")] * 2))
    item = upload(target, "batch-flaky.csv", csv_rows(40_000))
    assert len(item.body) > THRESHOLD
    (view,) = settle(target, 1, timeout=90)
    assert (view.path, view.status) == ("batch", "SUCCEEDED")
    (job,) = cloud.batch.jobs.values()
    assert [a["container"]["exitCode"] for a in job.attempts] == [75, 75, 0]
    assert_conserved(target, [item])


def test_a_killed_batch_job_sends_the_file_to_the_failure_prefix(cloud: LocalCloud, target: Target) -> None:
    assert cloud.batch is not None
    cloud.batch.interceptors.append(batch_attempts([AttemptResult(-9, "Killed by signal 9")]))
    item = upload(target, "batch-killed.csv", csv_rows(40_000))
    (view,) = settle(target, 1, timeout=90)
    assert (view.path, view.status, view.error) == ("batch", "FAILED", "Filepipe.TaskFailed")
    assert places(target, item) == ["failed/batch-killed.csv"]
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="outputs/").get("Contents")
    assert_conserved(target, [item])


def test_start_execution_throttled_for_a_while(cloud: LocalCloud, target: Target) -> None:
    assert cloud.gateway is not None
    throttled = {"left": 9}

    def throttle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes] | None:
        if environ.get("HTTP_X_AMZ_TARGET") != "AWSStepFunctions.StartExecution" or throttled["left"] <= 0:
            return None
        throttled["left"] -= 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return respond(start_response, 400, body, [("Content-Type", "application/x-amz-json-1.0")])

    cloud.gateway.routes.insert(0, throttle)
    try:
        items = [upload(target, f"burst/{i}.txt", f"file {i}".encode()) for i in range(3)]
        views = settle(target, 3, timeout=90)
    finally:
        cloud.gateway.routes.remove(throttle)
    assert throttled["left"] == 0, "StartExecution really was throttled"
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert_conserved(target, items)


def test_bad_messages_end_in_the_dead_letter_queue_and_harmless_ones_are_dropped(cloud: LocalCloud) -> None:
    sqs = cloud.client("sqs")
    for body in (
        "not json at all",
        json.dumps({"hello": "world"}),
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
    ):
        sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=body)
    deleted = {"version": "0", "source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}
    sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=json.dumps(deleted))
    deadline = time.monotonic() + 60
    while True:
        dead = sqs.get_queue_attributes(
            QueueUrl=cloud.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        if int(dead["Attributes"]["ApproximateNumberOfMessages"]) >= 3:
            break
        assert time.monotonic() < deadline, "malformed messages reach the dead-letter queue"
        time.sleep(0.5)
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=cloud.dead_letter_queue_url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert "not json at all" in bodies and json.dumps({"hello": "world"}) in bodies
    assert json.dumps(deleted) not in bodies, "an event the pipeline does not handle is acknowledged, not retried"


def test_a_1024_byte_key_and_odd_names_are_archived(target: Target) -> None:
    long_key = "deep/" + "ü" * 509 + "x"
    assert len(long_key.encode()) == 1024
    items = [
        upload(target, long_key, b"long"),
        upload(target, "odd/100% + tab\tnewline name.txt", b"odd"),
        upload(target, "odd/zero.bin", b""),
    ]
    views = settle(target, 3)
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert_conserved(target, items)


def test_a_batch_job_terminated_midway_aborts_its_upload_and_fails_the_file(
    cloud: LocalCloud, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TerminateJob stops the worker as ECS does (SIGTERM, SIGKILL after the stop timeout): the
    worker aborts its output's multipart upload, exits 75, and the file goes to the failure prefix."""
    assert cloud.batch is not None
    batch = cloud.batch
    monkeypatch.setattr(batch, "stop_timeout_seconds", 20)
    body = ("id,label,value\n" + "".join(f"{i},row {i},{i * 0.25}\n" for i in range(4_000_000))).encode()
    target.s3.put_object(Bucket=target.staging_bucket, Key="terminated.csv", Body=body)
    batch_api = cloud.client("batch")
    deadline = time.monotonic() + 120
    while not target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads"):
        assert time.monotonic() < deadline, "the worker began its output's multipart upload"
        time.sleep(0.02)
    (job,) = batch.jobs.values()
    batch_api.terminate_job(jobId=job.job_id, reason="operator: cancelled")
    (view,) = settle(target, 1, timeout=120)
    assert (view.path, view.status) == ("batch", "FAILED"), job.attempts
    assert job.status == "FAILED" and job.status_reason == "operator: cancelled"
    assert [a["container"]["exitCode"] for a in job.attempts] == [75], "SIGTERM became a clean exit, not a kill"
    assert not target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads"), "no upload left open"
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="outputs/").get("Contents")
    assert target.s3.get_object(Bucket=target.archive_bucket, Key="failed/terminated.csv")["Body"].read() == body


def test_batch_without_capacity_times_out_to_the_failure_prefix_and_a_retry_archives(
    cloud: LocalCloud, target: Target
) -> None:
    """Batch has no capacity: the job waits RUNNABLE until the task's TimeoutSeconds; Step Functions
    then terminates it (so it can never run later on a file already moved) and the file goes to
    the failure prefix. When capacity returns, a retry (a redrive of the same execution) archives it."""
    assert cloud.batch is not None
    batch = cloud.batch
    batch.capacity = 0
    cloud.redefine(BatchTaskTimeoutSeconds=4)
    item = upload(target, "no-capacity.csv", csv_rows(THRESHOLD // 8))
    assert len(item.body) > THRESHOLD
    (view,) = settle(target, 1, timeout=60)
    assert (view.path, view.status) == ("batch", "FAILED")
    (record,) = error_records(target)
    assert record.error == "States.Timeout"
    (job,) = batch.jobs.values()
    deadline = time.monotonic() + 10
    while job.status != "FAILED":
        assert time.monotonic() < deadline, "the waiting job was terminated"
        time.sleep(0.1)
    assert job.attempts == [], "it never ran"
    assert job.status_reason.startswith("The Task state in AWS Step Functions execution [")
    assert job.status_reason.endswith("which was managing this resource was aborted")
    assert places(target, item) == ["failed/no-capacity.csv"]

    batch.capacity = None
    cloud.redefine()
    retried = retry(target, view.arn)
    assert (retried.how, retried.execution_arn) == ("redriven", view.arn), "the failed execution itself runs again"
    (again,) = settle(target, 1, timeout=90)
    assert (again.status, again.redrives) == ("SUCCEEDED", 1)
    assert_conserved(target, [item])
