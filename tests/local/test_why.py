"""``filepipe why``: one command answers "what happened to my file?" (issue 28)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import settle

pytestmark = pytest.mark.local


def why(cloud: LocalCloud, *args: str, exit_code: int = 0) -> str:
    result = CliRunner().invoke(main, ["why", *args, "--endpoint", cloud.endpoint], catch_exceptions=False)
    assert result.exit_code == exit_code, result.output
    return result.output


def test_an_archived_file_by_its_file_name_shows_its_original_output_and_execution(
    cloud: LocalCloud, target: Target
) -> None:
    put = target.s3.put_object(Bucket=target.staging_bucket, Key="uploads/2026/12/04/ab12/cities.csv", Body=b"a\n1\n")
    (view,) = settle(target, 1)
    shown = why(cloud, "cities.csv")
    assert "uploads/2026/12/04/ab12/cities.csv: archived" in shown
    assert f"originals/uploads/2026/12/04/ab12/cities.csv (version {put['VersionId']}" in shown
    assert "outputs/uploads/2026/12/04/ab12/cities.csv/data.parquet (csv-to-parquet@" in shown
    assert f"{view.name} SUCCEEDED (standard, lambda" in shown
    assert "nothing: it is archived" in shown
    assert why(cloud, view.name) == shown, "the execution's name finds the same file"


def test_a_failed_file_shows_the_reason_with_its_row_and_what_to_do(cloud: LocalCloud, target: Target) -> None:
    target.s3.put_object(Bucket=target.staging_bucket, Key="in/broken.csv", Body=b"a,b\n1,2,3\n")
    (view,) = settle(target, 1)
    (story,) = json.loads(why(cloud, "in/broken.csv", "--json"))
    assert story["state"] == "failed"
    assert story["failure"]["error"] == "TransformRejected"
    assert "row 1: Expected 2 columns, got 3: '1,2,3'" in story["failure"]["reason"]
    assert [(p["area"], p["key"]) for p in story["places"]] == [("failed", "failed/in/broken.csv")]
    assert [e["name"] for e in story["executions"]] == [view.name]
    assert story["next"].startswith("fix the file and upload it again under the same key")


def test_a_failure_a_newer_version_fixed_shows_both_versions_and_the_resolution(
    cloud: LocalCloud, target: Target
) -> None:
    bad = target.s3.put_object(Bucket=target.staging_bucket, Key="fix/me.csv", Body=b"a,b\n1,2,3\n")
    settle(target, 1)
    good = target.s3.put_object(Bucket=target.staging_bucket, Key="fix/me.csv", Body=b"a,b\n1,2\n")
    settle(target, 2)
    (story,) = json.loads(why(cloud, "fix/me.csv", "--json"))
    assert story["state"] == "resolved"
    assert story["resolvedBy"] == good["VersionId"]
    places = {(p["area"], p["versionId"]) for p in story["places"]}
    assert places == {("originals", good["VersionId"]), ("superseded", bad["VersionId"])}
    assert len(story["executions"]) == 2 and {e["status"] for e in story["executions"]} == {"SUCCEEDED", "FAILED"}
    assert "fixed the earlier failure" in story["next"]


def test_a_file_no_execution_took_says_how_to_start_it(cloud: LocalCloud, target: Target) -> None:
    target.s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    target.s3.put_object(Bucket=target.staging_bucket, Key="quiet/lost.csv", Body=b"a\n1\n")
    shown = why(cloud, "lost.csv")
    assert "quiet/lost.csv: processing" in shown
    assert "filepipe backfill --prefix 'quiet/lost.csv'" in shown
    cloud.resources.notification()


def test_a_name_nothing_has_is_one_line_and_exit_1(cloud: LocalCloud) -> None:
    shown = why(cloud, "never-uploaded.csv", exit_code=1)
    said = "nothing named 'never-uploaded.csv' in staging or the archive, and no execution of that name"
    assert shown.strip() == said


def test_status_shows_each_failure_s_reason_and_whether_a_newer_version_resolved_it(
    cloud: LocalCloud, target: Target
) -> None:
    target.s3.put_object(Bucket=target.staging_bucket, Key="fix/it.csv", Body=b"a,b\n1,2,3\n")
    (failed,) = settle(target, 1)
    result = CliRunner().invoke(main, ["status", "--json", "--endpoint", cloud.endpoint], catch_exceptions=False)
    (shown,) = json.loads(result.output)
    assert (shown["status"], shown["error"], shown["resolved"]) == ("FAILED", "TransformRejected", False)
    assert "row 1: Expected 2 columns, got 3" in shown["reason"]
    target.s3.put_object(Bucket=target.staging_bucket, Key="fix/it.csv", Body=b"a,b\n1,2\n")
    settle(target, 2)
    result = CliRunner().invoke(main, ["status", "--json", "--endpoint", cloud.endpoint], catch_exceptions=False)
    views = {v["name"]: v for v in json.loads(result.output)}
    assert views[failed.name]["resolved"] is True
    (fixed,) = [v for v in views.values() if v["name"] != failed.name]
    assert fixed["outcome"] == "originals/fix/it.csv (fixed an earlier failure)"
    table = CliRunner().invoke(main, ["status", "--endpoint", cloud.endpoint], catch_exceptions=False).output
    assert "FAILED, resolved" in table and "…" not in table, "piped, nothing is cut short"
