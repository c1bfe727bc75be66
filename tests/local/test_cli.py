"""The command line against the local cloud: status, ls, retry, redrive, demo and up."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import by_key, free_port, settle, staging_versions

pytestmark = pytest.mark.local
FILEPIPE = str(Path(sys.executable).parent / "filepipe")


class TransformCrashed(Exception):
    """A stand-in for a bug in a transform: not transient, so not retried."""


def crash_transform(times: int) -> Any:
    remaining = {"n": times}

    def intercept(function: str, event: Any) -> None:
        if function == "filepipe-transform" and remaining["n"] > 0:
            remaining["n"] -= 1
            raise TransformCrashed("transform crashed midway")

    return intercept


def run(cloud: LocalCloud, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--endpoint", cloud.endpoint], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_failing(cloud: LocalCloud, *args: str) -> str:
    """A command that exits 1 (``retry --wait`` of a file that fails again)."""
    result = CliRunner().invoke(main, [*args, "--endpoint", cloud.endpoint], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    return result.output


def test_status_and_ls(cloud: LocalCloud, target: Target) -> None:
    target.s3.put_object(Bucket=target.staging_bucket, Key="a.csv", Body=b"a\n1\n")
    target.s3.put_object(Bucket=target.staging_bucket, Key="b.csv", Body=b"a,b\n1\n2,3,4\n")
    settle(target, 2)
    status = run(cloud, "status")
    assert "a.csv" in status and "SUCCEEDED" in status
    assert "b.csv" in status and "FAILED" in status
    for view in settle(target, 2):
        assert view.name in status, "whole execution names, as `retry` takes them"
    listing = run(cloud, "ls")
    assert "originals/a.csv" in listing and "outputs/a.csv/data.parquet" in listing
    assert "failed/b.csv" in listing and "errors/b.csv.json" in listing
    assert "staging (0)" in listing


def test_a_crashed_file_is_retried_from_the_failure_prefix(cloud: LocalCloud, target: Target) -> None:
    cloud.lambdas.interceptors.append(crash_transform(times=2))
    target.s3.put_object(Bucket=target.staging_bucket, Key="r.csv", Body=b"a\n1\n")
    (failed,) = settle(target, 1)
    assert (failed.status, failed.error, failed.outcome) == ("FAILED", "TransformCrashed", "failed/r.csv")

    output = run_failing(cloud, "retry", failed.name, "--wait")
    assert output.startswith(f"redriven: {failed.name}"), "the execution itself is redriven, as the console does"
    assert "failed: failed/r.csv (TransformCrashed)" in output, "the transform crashed again"
    (again,) = settle(target, 1)
    assert (again.arn, again.redrives) == (failed.arn, 1)
    record = json.loads(target.s3.get_object(Bucket=target.archive_bucket, Key="errors/r.csv.json")["Body"].read())
    assert record["attempts"] == 2

    output = run(cloud, "redrive")
    assert "1 started" in output
    views = settle(target, 2)
    assert [v.status for v in views].count("SUCCEEDED") == 1
    assert target.s3.get_object(Bucket=target.archive_bucket, Key="originals/r.csv")["Body"].read() == b"a\n1\n"
    leftovers = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="failed/").get("KeyCount", 0)
    assert leftovers == 0, "a successful retry clears the failure prefix"
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="errors/").get("Contents")
    assert "0 started, 0 failed" in run(cloud, "redrive")


def test_retry_waits_for_the_redrive_and_asking_twice_retries_once(cloud: LocalCloud, target: Target) -> None:
    cloud.lambdas.interceptors.append(crash_transform(times=1))
    target.s3.put_object(Bucket=target.staging_bucket, Key="twice.txt", Body=b"x")
    (failed,) = settle(target, 1)
    first = run(cloud, "retry", failed.arn, "--wait")
    assert first.startswith(f"redriven: {failed.name}") and "succeeded: originals/twice.txt" in first
    second = run(cloud, "retry", failed.arn)
    assert second.startswith(f"already succeeded: {failed.name}")
    (view,) = settle(target, 1)
    assert view.redrives == 1 and "(redriven 1x)" in run(cloud, "status")


def test_retry_past_the_redrivable_period_starts_a_new_execution(cloud: LocalCloud, target: Target) -> None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from filepipe.local.config import ACCOUNT, REGION

    cloud.lambdas.interceptors.append(crash_transform(times=1))
    target.s3.put_object(Bucket=target.staging_bucket, Key="old.txt", Body=b"x")
    (failed,) = settle(target, 1)
    execution = stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(failed.arn)
    execution.stop_date -= datetime.timedelta(days=15)
    output = run(cloud, "retry", failed.name)
    assert output.startswith(f"started: {failed.name[:40]}") and "-retry1" in output
    assert "a new execution, not a redrive: Execution redrivable period exceeded." in output
    retried = [v for v in settle(target, 2) if v.arn != failed.arn]
    assert [(v.status, v.outcome) for v in retried] == [("SUCCEEDED", "originals/old.txt")]


def test_unreachable_endpoint_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["status", "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "is `filepipe up` running?" in result.output


def test_demo_runs_on_a_fresh_process() -> None:
    result = subprocess.run([FILEPIPE, "demo"], capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every file ended where it should" in result.stdout
    for key in ("samples/cities.csv", "samples/sensor readings.csv", "samples/broken.csv", "Q3 résumé + notes ✓.txt"):
        assert key in result.stdout


def child_pids(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.update(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:
            continue  # a thread that ended while we looked
    return children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def test_up_serves_any_s3_client_with_its_credentials_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [FILEPIPE, "up", "--port", str(port), "--runner", "process", "--function-concurrency", "2", "--no-reload"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        banner = []
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if "Ctrl-C stops" in line:
                break
        assert any(endpoint in line for line in banner), "".join(banner)
        assert any("up to 2 each" in line for line in banner), "".join(banner)
        assert any("code reload      off" in line for line in banner), "".join(banner)
        assert any("AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test" in line for line in banner), "".join(banner)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.put_object(Bucket="filepipe-staging", Key="hello.txt", Body=b"hello")
        s3.put_object(Bucket="filepipe-staging", Key="broken.csv", Body=b"a,b\n1,2,3\n")
        deadline = time.monotonic() + 60
        while not s3.list_objects_v2(Bucket="filepipe-archive", Prefix="failed/").get("KeyCount"):
            assert time.monotonic() < deadline, "the broken file was not moved to failed/"
            time.sleep(0.3)
        while not s3.list_objects_v2(Bucket="filepipe-archive", Prefix="originals/").get("KeyCount"):
            if time.monotonic() > deadline:
                process.send_signal(signal.SIGINT)
                raise AssertionError("the upload was not archived:\n" + process.communicate(timeout=30)[0][-3000:])
            time.sleep(0.3)
        redrive_with_the_aws_cli(endpoint)
        environments = child_pids(process.pid)
        assert len(environments) >= 3, "the trigger, transform and archive functions each have an environment"
        process.send_signal(signal.SIGINT)
        # It ends every environment at once, in seconds; a loaded machine may take much longer.
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopping" in output
    assert "moto" not in output and "Traceback" not in output, "a failed file does not dump the engine's internals"
    assert not [pid for pid in environments if alive(pid)], "stopping ends every execution environment"


def redrive_with_the_aws_cli(endpoint: str) -> None:
    """The console's Redrive, as `aws stepfunctions redrive-execution` asks for it, with the local
    cloud's test key: the broken file's execution runs again under its ARN, and fails again."""
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "filepipe")
    deadline = time.monotonic() + 60
    # failed/ holds the file before its execution ends: the Failed step reports it after the move.
    while not (listed := sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED")["executions"]):
        assert time.monotonic() < deadline, "the broken file's execution did not end FAILED"
        time.sleep(0.3)
    (failed,) = listed
    env = {k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"}
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    command = ["stepfunctions", "redrive-execution", "--execution-arn", failed["executionArn"]]
    redriven = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", endpoint, *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert redriven.returncode == 0 and "redriveDate" in redriven.stdout, redriven.stderr
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=failed["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the redriven execution did not end"
        time.sleep(0.3)
    assert (described["status"], described["error"], described["redriveCount"]) == ("FAILED", "TransformRejected", 1)


def test_nothing_is_left_in_staging(target: Target) -> None:
    assert staging_versions(target) == []


def test_a_fixed_file_resolves_its_failure(cloud: LocalCloud, target: Target) -> None:
    """The story: a file fails; its owner uploads a corrected version of the same key; once that
    is archived, the failure is resolved (its copy kept under superseded/, its record under
    resolved/ naming the version that fixed it) and redrive no longer retries it."""
    bad = target.s3.put_object(Bucket=target.staging_bucket, Key="fix/me.csv", Body=b"a,b\n1,2,3\n")
    (failed,) = settle(target, 1)
    assert failed.status == "FAILED"
    good = target.s3.put_object(Bucket=target.staging_bucket, Key="fix/me.csv", Body=b"a,b\n1,2\n")
    fixed = by_key([v for v in settle(target, 2) if v.arn != failed.arn])["fix/me.csv"]
    assert (fixed.status, fixed.outcome) == ("SUCCEEDED", "originals/fix/me.csv (fixed an earlier failure)")
    listing = run(cloud, "ls")
    assert "resolved/fix/me.csv.json" in listing and "failed/fix/me.csv" not in listing
    assert "errors/fix/me.csv.json" not in listing
    record = json.loads(
        target.s3.get_object(Bucket=target.archive_bucket, Key="resolved/fix/me.csv.json")["Body"].read()
    )
    assert (record["versionId"], record["resolved"]["by"]) == (bad["VersionId"], good["VersionId"])
    kept = record["resolved"]["original"]
    assert kept == f"superseded/fix/me.csv/{bad['VersionId']}/original"
    assert target.s3.get_object(Bucket=target.archive_bucket, Key=kept)["Body"].read() == b"a,b\n1,2,3\n"
    assert "0 started, 0 failed file(s)" in run(cloud, "redrive")
    assert "resolved" in run(cloud, "status")
