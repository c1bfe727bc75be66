"""The Express tier in the local cloud: which machine each file takes, what would not fit in five
minutes, and where a small file's failure says its history is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from filepipe.events import ObjectRef, execution_name
from filepipe.local import LocalCloud
from filepipe.operations import ExecutionView, Target, error_records, executions, express_executions
from filepipe.retries import retry
from filepipe.why import why
from tests.local.helpers import TERMINAL, THRESHOLD, settle
from tests.reliability.helpers import assert_conserved, upload

pytestmark = pytest.mark.local


@pytest.fixture
def express(cloud: LocalCloud) -> LocalCloud:
    cloud.use_small_file_workflow("express")
    return cloud


def wait_for(what: str, found: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ended_express(target: Target, count: int) -> list[ExecutionView]:
    """Wait until ``count`` Express executions have logged their end."""
    return list(
        wait_for(
            f"{count} Express executions",
            lambda: (
                (views := [v for v in express_executions(target) if v.status in TERMINAL])
                and len(views) >= count
                and views
            ),
        )
    )


def test_small_files_run_on_express_and_large_ones_on_standard(express: LocalCloud, target: Target) -> None:
    small = upload(target, "tiers/small.csv", b"a,b\n1,2\n")
    large = upload(target, "tiers/large.csv", b"a,b\n" + b"1,2\n" * (THRESHOLD // 4 + 10))
    (standard,) = settle(target, 1)
    (view,) = ended_express(target, 1)
    assert (view.key, view.tier, view.path, view.status) == ("tiers/small.csv", "express", "lambda", "SUCCEEDED")
    assert view.outcome == "originals/tiers/small.csv"
    assert ":express:" in view.arn and view.name == execution_name(
        ObjectRef(target.staging_bucket, small.key, small.version_id)
    )
    assert (standard.key, standard.tier, standard.path) == ("tiers/large.csv", "standard", "batch")
    assert {v.key for v in executions(target)} == {"tiers/small.csv", "tiers/large.csv"}, "status shows both tiers"
    assert_conserved(target, [small, large])


def test_express_executions_are_invisible_to_step_functions_as_in_aws(express: LocalCloud, target: Target) -> None:
    """Their history is their log group: DescribeExecution, GetExecutionHistory, StopExecution and
    ListExecutions refuse them, so nothing here leans on what AWS would not answer."""
    upload(target, "tiers/quiet.csv", b"a\n1\n")
    (view,) = ended_express(target, 1)
    for call in (
        lambda: target.sfn.describe_execution(executionArn=view.arn),
        lambda: target.sfn.get_execution_history(executionArn=view.arn),
        lambda: target.sfn.stop_execution(executionArn=view.arn),
    ):
        with pytest.raises(target.sfn.exceptions.InvalidArn):
            call()
    with pytest.raises(target.sfn.exceptions.ClientError, match="StateMachineTypeNotSupported"):
        target.sfn.list_executions(stateMachineArn=express.express_state_machine_arn)


def logged_events(target: Target) -> list[dict[str, Any]]:
    assert target.logs is not None and target.express_log_group is not None
    logged = target.logs.filter_log_events(logGroupName=target.express_log_group)["events"]
    return [json.loads(e["message"]) for e in logged]


def test_status_why_and_retry_answer_from_claims_and_records_at_execution_logs_errors(
    express: LocalCloud, target: Target
) -> None:
    """At ``executionLogs=errors`` the log group holds a failure's error events without data and
    nothing of a success; ``status``, ``why`` and ``retry`` still answer for both files, from the
    claim each execution took and the record the failure wrote."""
    good = upload(target, "quiet/good.csv", b"a,b\n1,2\n")
    bad = upload(target, "quiet/bad.csv", b"a,b\n1,2,3\n")
    ended = {v.key: v for v in ended_express(target, 2)}
    logged = wait_for("the failure's logged events", lambda: logged_events(target))
    assert {e["execution_arn"] for e in logged} == {ended["quiet/bad.csv"].arn}
    assert "ExecutionStarted" not in {e["type"] for e in logged}
    assert not any({"input", "output", "cause"} & set(e["details"]) for e in logged), "no execution data"

    by_key = {v.key: v for v in executions(target)}
    succeeded, failed = by_key["quiet/good.csv"], by_key["quiet/bad.csv"]
    assert (succeeded.tier, succeeded.status, succeeded.path, succeeded.outcome) == (
        "express",
        "SUCCEEDED",
        "lambda",
        "originals/quiet/good.csv",
    )
    assert succeeded.name == execution_name(ObjectRef(target.staging_bucket, good.key, good.version_id))
    assert (failed.tier, failed.status, failed.error, failed.outcome) == (
        "express",
        "FAILED",
        "TransformRejected",
        "failed/quiet/bad.csv",
    )
    assert failed.reason and "3" in failed.reason, "the record's message, as the log's cause said it"

    (good_story,) = why(target, "quiet/good.csv")
    assert good_story.state == "archived"
    assert [(e.arn, e.status) for e in good_story.executions] == [(succeeded.arn, "SUCCEEDED")]
    (bad_story,) = why(target, "bad.csv")
    assert bad_story.state == "failed" and bad_story.failure is not None
    assert [(e.arn, e.status, e.error) for e in bad_story.executions] == [(failed.arn, "FAILED", "TransformRejected")]
    assert "upload it again" in bad_story.next_step, "a rejected file is fixed, not retried"

    retried = retry(target, failed.name)
    assert (retried.how, retried.key) == ("started", "quiet/bad.csv") and retried.name.endswith("-retry1")
    (again,) = settle(target, 1)
    assert (again.tier, again.status, again.error) == ("standard", "FAILED", "TransformRejected")
    logged_arns = {e["execution_arn"] for e in logged_events(target)}
    assert logged_arns == {failed.arn}, "long after both ended, nothing of the success was logged"
    assert_conserved(target, [good, bad])


def test_execution_logs_all_logs_every_event_with_data_and_status_reads_it(express: LocalCloud, target: Target) -> None:
    """``-c executionLogs=all``, for debugging: every event with its data, as the console shows it;
    ``status`` then reads the whole execution from the log group."""
    express.use_execution_logs("all")
    upload(target, "loud/file.csv", b"a\n1\n")
    # The local cloud writes an execution's events when it ends (AWS: as they happen).
    types = [e["type"] for e in wait_for("its logged events", lambda: logged_events(target))]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    (view,) = express_executions(target)
    assert "TaskStateEntered" in types
    assert (view.key, view.status, view.outcome) == ("loud/file.csv", "SUCCEEDED", "originals/loud/file.csv")
    assert view.stopped is not None, "only the log has when an Express execution ended"


def test_a_transform_that_would_not_fit_continues_on_standard(express: LocalCloud, target: Target) -> None:
    """The transform stops itself before Express's five minutes (here: at once), aborting its
    output; the Standard machine takes the file over under the same name and finishes it."""
    express.lambdas.update_environment(express.functions["transform"].name, {"EXPRESS_TRANSFORM_SECONDS": "0"})
    item = upload(target, "tiers/slow.csv", b"a,b\n" + b"1,2\n" * 1000)
    (view,) = ended_express(target, 1)
    assert view.outcome == "continued on the Standard machine" and view.status == "SUCCEEDED"
    (standard,) = settle(target, 1)
    assert standard.name == view.name, "the handover keeps the execution's name (and so its claim)"
    assert (standard.status, standard.outcome) == ("SUCCEEDED", "originals/tiers/slow.csv")
    uploads = target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads", [])
    assert not uploads, "the output the Express transform had begun was aborted"
    assert_conserved(target, [item])


def test_a_small_files_failure_names_its_execution_and_history_and_retries_on_standard(
    express: LocalCloud, target: Target
) -> None:
    item = upload(target, "tiers/broken.csv", b"a,b\n1,2,3\n")
    (view,) = ended_express(target, 1)
    assert view.status == "FAILED" and view.outcome == "failed/tiers/broken.csv"
    (record,) = error_records(target)
    assert record.execution == view.arn
    assert record.history is not None and express.express_log_group in record.history
    retried = retry(target, view.name)
    assert retried.how == "started" and retried.name.endswith("-retry1"), "an Express execution is not redriven"
    (again,) = settle(target, 1)
    assert (again.tier, again.status, again.error) == ("standard", "FAILED", "TransformRejected"), (
        "the retry ran on Standard, not stopped as a duplicate: the failed execution gave its claim up"
    )
    (record,) = error_records(target)
    assert record.attempts == 2
    assert_conserved(target, [item])


def test_each_file_is_counted_by_tier_and_outcome(express: LocalCloud, target: Target) -> None:
    """The functions' embedded-format metrics (what the dashboard graphs) come out of the local
    functions too, one ``Files`` record per ending."""
    files = [upload(target, "metrics/ok.csv", b"a\n1\n"), upload(target, "metrics/bad.csv", b"a,b\n1,2,3\n")]
    ended_express(target, 2)
    endings = wait_for(
        "two Files metrics",
        lambda: len(found := [m for m in list(express.lambdas.metrics) if "Files" in m]) >= 2 and found,
    )
    assert sorted((m["outcome"], m["tier"], m["path"]) for m in endings) == [
        ("archived", "express", "lambda"),
        ("failed", "express", "lambda"),
    ]
    assert_conserved(target, files)
