"""The console's Redrive retries a file, in the local cloud as in AWS: each kind of failure,
redriven (RedriveExecution, as the console's button calls it), ends where a retry should.

The execution keeps its ARN: a redrive is never a second execution. Each test ends by checking
that every uploaded version is in exactly one place (``assert_conserved``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from filepipe.errors import TransientError
from filepipe.local import LocalCloud
from filepipe.map_runs import start_backfill
from filepipe.operations import ExecutionView, Target, describe, error_records
from filepipe.retries import retry
from tests.conftest import keys
from tests.local.helpers import TERMINAL, THRESHOLD, settle, staging_versions
from tests.local.test_pipeline import aws_cli
from tests.reliability.helpers import archived_version, assert_conserved, places, upload

pytestmark = pytest.mark.local

BROKEN = b"id,label\n1,a\n2,b,c\n"
"""A row with a field too many: the CSV transform rejects the file (TransformRejected)."""


def csv_rows(n: int) -> bytes:
    return ("id,label\n" + "".join(f"{i},row {i}\n" for i in range(n))).encode()


def redriven(target: Target, arn: str, timeout: float = 120) -> ExecutionView:
    """Redrive ``arn`` as the console does, and wait for it to end again."""
    target.sfn.redrive_execution(executionArn=arn)
    return ended(target, arn, timeout)


def ended(target: Target, arn: str, timeout: float = 120) -> ExecutionView:
    deadline = time.monotonic() + timeout
    while (view := describe(target, arn)).status not in TERMINAL:
        assert time.monotonic() < deadline, f"{arn} did not end"
        time.sleep(0.2)
    return view


def events_after_redrive(target: Target, arn: str) -> list[dict[str, Any]]:
    events = target.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    last = max(i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven")
    return list(events[last:])


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def only_execution(target: Target) -> ExecutionView:
    (view,) = settle(target, 1)
    return view


def test_a_rejected_file_redriven_fails_again_with_one_copy_and_one_record(cloud: LocalCloud, target: Target) -> None:
    item = upload(target, "redrive/broken.csv", BROKEN)
    view = only_execution(target)
    described = target.sfn.describe_execution(executionArn=view.arn)
    transform_failed = next(
        e["taskFailedEventDetails"]
        for e in target.sfn.get_execution_history(executionArn=view.arn)["events"]
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"]["error"] == "TransformRejected"
    )
    assert (described["error"], described["cause"]) == ("TransformRejected", transform_failed["cause"]), (
        "the execution fails with the transform's own error and cause"
    )
    assert view.outcome == "failed/redrive/broken.csv"

    aws_cli(cloud, "stepfunctions", "redrive-execution", "--execution-arn", view.arn)
    again = ended(target, view.arn)
    assert (again.status, again.error, again.redrives) == ("FAILED", "TransformRejected", 1)
    assert len(target.sfn.list_executions(stateMachineArn=target.state_machine_arn)["executions"]) == 1
    steps = entered(events_after_redrive(target, view.arn))
    assert steps[:4] == ["Failed", "Redriven", "Route", "TransformOnLambda"], "processed again, from the start"
    assert steps[-1] == "Failed"
    (record,) = error_records(target)
    assert (record.ref.version_id, record.error, record.attempts) == (item.version_id, "TransformRejected", 2)
    copies = target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix="failed/redrive/broken.csv")
    assert len(copies["Versions"]) == 1, "the copy in the failure prefix was read, not copied again"
    assert keys(target.s3, target.archive_bucket, "outputs/") == []
    assert_conserved(target, [item])


def test_a_transient_failure_redriven_once_its_cause_is_gone_is_archived(cloud: LocalCloud, target: Target) -> None:
    def unavailable(function: str, event: Any) -> None:
        if function == "filepipe-transform":
            raise TransientError("S3 answered 503 SlowDown")

    cloud.lambdas.interceptors.append(unavailable)
    item = upload(target, "redrive/flaky.csv", csv_rows(3))
    (view,) = settle(target, 1, timeout=150)
    assert (view.status, view.error, view.outcome) == ("FAILED", "TransientError", "failed/redrive/flaky.csv")

    cloud.lambdas.interceptors.remove(unavailable)
    again = redriven(target, view.arn)
    assert (again.status, again.outcome, again.redrives) == ("SUCCEEDED", "originals/redrive/flaky.csv", 1)
    assert "error" not in target.sfn.describe_execution(executionArn=view.arn), "no failure is left on it"
    assert error_records(target) == [] and keys(target.s3, target.archive_bucket, "failed/") == []
    assert_conserved(target, [item])


def test_a_refused_move_redriven_with_the_grant_back_processes_the_file_from_staging(
    cloud: LocalCloud, target: Target
) -> None:
    from filepipe.grants import PRINCIPALS, Objects, grant_covering

    cloud.identities.revoke("failure", grant_covering(PRINCIPALS["failure"], Objects("archive", ("originals",))))
    item = upload(target, "redrive/refused.csv", BROKEN)
    view = only_execution(target)
    assert (view.status, view.error) == ("FAILED", "DeploymentError")
    assert [v["VersionId"] for v in staging_versions(target)] == [item.version_id], "the move left it in staging"

    cloud.identities.restore()
    again = redriven(target, view.arn)
    assert (again.status, again.error, again.outcome) == ("FAILED", "TransformRejected", "failed/redrive/refused.csv")
    (record,) = error_records(target)
    assert record.attempts == 1, "the refused move recorded nothing: this is the file's first recorded failure"
    assert_conserved(target, [item])


def test_a_failure_a_newer_upload_resolved_is_redriven_without_touching_the_newer_version(
    cloud: LocalCloud, target: Target
) -> None:
    old = upload(target, "redrive/fixed.csv", BROKEN)
    failed = only_execution(target)
    new = upload(target, "redrive/fixed.csv", csv_rows(2))
    settle(target, 2)
    assert archived_version(target, new.key) == new.version_id
    before = target.s3.list_object_versions(Bucket=target.archive_bucket)["Versions"]

    assert retry(target, failed.arn).how == "already resolved", "filepipe retry says so and starts nothing"
    again = redriven(target, failed.arn)
    assert (again.status, again.outcome) == ("SUCCEEDED", "resolved/redrive/fixed.csv.json")
    after = target.s3.list_object_versions(Bucket=target.archive_bucket)["Versions"]
    assert sorted((v["Key"], v["VersionId"]) for v in after) == sorted((v["Key"], v["VersionId"]) for v in before), (
        "nothing in the archive was written: the newer version's original and output are untouched"
    )
    assert places(target, old) == [f"superseded/redrive/fixed.csv/{old.version_id}/original"]
    assert_conserved(target, [old, new])


def test_a_batch_job_that_never_ran_for_want_of_capacity_is_redriven_and_archived(
    cloud: LocalCloud, target: Target
) -> None:
    """The job waits RUNNABLE until the task's TimeoutSeconds: Step Functions terminates it and the
    file fails. A redrive runs the execution's own definition (the same timeout) once capacity is back."""
    assert cloud.batch is not None
    cloud.batch.capacity = 0
    cloud.redefine(BatchTaskTimeoutSeconds=20)
    item = upload(target, "redrive/big.csv", csv_rows(THRESHOLD // 8))
    assert len(item.body) > THRESHOLD
    (view,) = settle(target, 1, timeout=90)
    assert (view.path, view.status, view.error) == ("batch", "FAILED", "Filepipe.Timeout")
    deadline = time.monotonic() + 10
    while any(job.status != "FAILED" for job in cloud.batch.jobs.values()):
        assert time.monotonic() < deadline, "the waiting job was terminated"
        time.sleep(0.1)
    assert [job.attempts for job in cloud.batch.jobs.values()] == [[]], "it never ran"

    cloud.batch.capacity = None
    again = redriven(target, view.arn)
    assert (again.status, again.outcome) == ("SUCCEEDED", "originals/redrive/big.csv")
    ran = [job for job in cloud.batch.jobs.values() if job.attempts]
    assert len(ran) == 1 and ran[0].attempts[0]["container"]["exitCode"] == 0
    assert_conserved(target, [item])


class TriggerRefused(Exception):
    """A stand-in for items the trigger cannot start (not transient, so not retried)."""


def test_a_failed_backfill_map_run_redriven_after_its_cause_is_fixed_reruns_only_its_failed_batch(
    cloud: LocalCloud, target: Target
) -> None:
    """150 objects, in batches of 100 and 50 (the machine's ItemBatcher): the second batch is
    refused, so 50 of 150 items failed, over the 5% tolerated; the redrive hands on that batch only."""
    s3 = target.s3
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    items = [upload(target, f"bf/{i:03}.csv", f"a\n{i}\n".encode()) for i in range(150)]
    cloud.resources.notification()
    refused = {items[117].key}
    handed: list[str] = []

    def trigger(function: str, event: Any) -> None:
        if function == "filepipe-trigger" and "Items" in event:
            listed = [i["Key"] for i in event["Items"]]
            handed.extend(listed)
            if set(listed) & refused:
                raise TriggerRefused("this item cannot be started yet")

    cloud.lambdas.interceptors.append(trigger)
    arn = start_backfill(target, prefix="bf/")
    first = ended(target, arn)
    assert first.status == "FAILED", "50 of 150 failed: over the 5% the Map Run tolerates"
    assert target.sfn.describe_execution(executionArn=arn)["error"] == "States.ExceedToleratedFailureThreshold"
    assert len(settle(target, 100, timeout=180)) == 100
    (run,) = target.sfn.list_map_runs(executionArn=arn)["mapRuns"]

    refused.clear()
    handed.clear()
    assert redriven(target, arn).status == "SUCCEEDED"
    assert sorted(handed) == [item.key for item in items[100:]], "only the failed batch was handed on again"
    (same,) = target.sfn.list_map_runs(executionArn=arn)["mapRuns"]
    assert same["mapRunArn"] == run["mapRunArn"], "the Map Run was redriven, not started anew"
    described = target.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    assert (described["itemCounts"]["total"], described["itemCounts"]["succeeded"]) == (150, 150)
    assert (described["executionCounts"]["total"], described["executionCounts"]["succeeded"]) == (2, 2)
    manifest_key = next(k for k in keys(s3, target.archive_bucket, "results/") if k.endswith("manifest.json"))
    manifest = json.loads(s3.get_object(Bucket=target.archive_bucket, Key=manifest_key)["Body"].read())
    (written,) = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads(s3.get_object(Bucket=target.archive_bucket, Key=written["Key"])["Body"].read())
    assert len(results) == 2 and manifest["ResultFiles"]["FAILED"] == [], "one result per child: per batch"
    assert sorted(r["RedriveCount"] for r in results) == [0, 1]
    views = settle(target, 150, timeout=180)
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert_conserved(target, items)


def test_an_express_failure_cannot_be_redriven_and_is_retried_on_standard(cloud: LocalCloud, target: Target) -> None:
    from botocore.exceptions import ClientError

    from tests.local.test_express import ended_express

    cloud.use_small_file_workflow("express")
    item = upload(target, "redrive/express.csv", BROKEN)
    (view,) = ended_express(target, 1)
    assert view.status == "FAILED"
    with pytest.raises(ClientError) as refused:
        target.sfn.redrive_execution(executionArn=view.arn)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    retried = retry(target, view.arn)
    assert (retried.how, retried.name.endswith("-retry1")) == ("started", True)
    assert retried.not_redriven is not None and "Express" in retried.not_redriven
    standard = settle(target, 1)[0]
    assert (standard.status, standard.error) == ("FAILED", "TransformRejected")
    assert_conserved(target, [item])
