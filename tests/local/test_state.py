"""State that survives a restart: ``filepipe up --state DIR``, stopped and started again, still
has its files, executions and histories, and ``ls``, ``status``, ``retry`` and ``reprocess`` work
on them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filepipe.cli._target import local_target
from filepipe.deployment import MACHINES
from filepipe.local import LocalCloud, adapter, state
from tests.local.helpers import RunningUp, by_key, free_port, settle

pytestmark = pytest.mark.local
FILEPIPE = str(Path(sys.executable).parent / "filepipe")


def filepipe(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FILEPIPE, *args, "--endpoint", endpoint], capture_output=True, text=True, timeout=300, check=False
    )


def start(state: Path) -> RunningUp:
    up = RunningUp([FILEPIPE, "up", "--runner", "process", "--no-reload", "--state", str(state)], free_port())
    up.wait_for_banner()
    return up


def test_files_and_executions_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = start(state)
    try:
        assert f"state            new; saved when it stops, to {state}" in up.output, up.output
        target = local_target(up.endpoint)
        target.s3.put_object(Bucket=target.staging_bucket, Key="good.csv", Body=b"a,b\n1,2\n")
        target.s3.put_object(Bucket=target.staging_bucket, Key="bad.csv", Body=b"a,b\n1,2,3\n")
        before = by_key(settle(target, 2, timeout=120))
        assert (before["good.csv"].status, before["bad.csv"].status) == ("SUCCEEDED", "FAILED")
    finally:
        assert up.stop() == 0, up.output
    assert f"state saved to {state}" in up.output and (state / "state.pickle").exists()

    up = start(state)
    try:
        assert f"state            restored from {state}" in up.output, up.output
        endpoint = up.endpoint
        listed = filepipe(endpoint, "ls", "--json")
        assert listed.returncode == 0, listed.stderr
        everything = [key for keys in json.loads(listed.stdout).values() for key in keys]
        assert "outputs/good.csv/data.parquet" in everything and "failed/bad.csv" in everything, everything

        shown = filepipe(endpoint, "status", "--json")
        assert shown.returncode == 0, shown.stderr
        statuses = {e["key"]: e["status"] for e in json.loads(shown.stdout)}
        assert statuses == {"good.csv": "SUCCEEDED", "bad.csv": "FAILED"}

        retried = filepipe(endpoint, "retry", before["bad.csv"].name, "--wait")
        assert retried.returncode == 1 and "failed" in retried.stdout, retried.stdout + retried.stderr
        target = local_target(endpoint)
        again = by_key(settle(target, 2))["bad.csv"]
        assert (again.arn, again.redrives, again.error) == (before["bad.csv"].arn, 1, "TransformRejected")

        reprocessed = filepipe(endpoint, "reprocess", "csv-to-parquet", "--current-version", "99")
        assert reprocessed.returncode == 0, reprocessed.stdout + reprocessed.stderr
        runs = [v for v in settle(target, 3, timeout=120) if v.key == "good.csv"]
        assert [v.status for v in runs] == ["SUCCEEDED", "SUCCEEDED"], "the restored original was processed again"
    finally:
        assert up.stop() == 0, up.output


def test_an_execution_running_at_the_stop_comes_back_aborted_and_redrivable(cloud: LocalCloud, tmp_path: Path) -> None:
    """Saved while it waits, put back as a restart puts it back (its worker thread left behind),
    it ends ABORTED with the reason in its history, and a Redrive finishes it."""
    sfn = cloud.client("stepfunctions")
    definition = {
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": 3, "Next": "Done"}, "Done": {"Type": "Succeed"}},
    }
    machine = sfn.create_state_machine(
        name="held", definition=json.dumps(definition), roleArn=cloud.naming.role_arn(MACHINES["standard"].principal)
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="held-1", input="{}")["executionArn"]
    state.save(tmp_path)
    assert state.load(tmp_path)
    assert adapter.abort_interrupted_executions("stopped") == [arn]

    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    last = sfn.get_execution_history(executionArn=arn)["events"][-1]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "filepipe.LocalCloudStopped", "cause": "stopped"}

    sfn.redrive_execution(executionArn=arn)
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the redriven execution did not end"
        time.sleep(0.2)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
