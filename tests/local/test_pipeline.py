"""The whole pipeline in the local cloud: uploads in, files archived or failed, nothing lost."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from filepipe.local import LocalCloud
from filepipe.local.lambdas import SENT_PER_SLOT
from filepipe.operations import Target
from tests.conftest import tool
from tests.local.helpers import THRESHOLD, by_key, notification_for, settle, staging_versions

pytestmark = pytest.mark.local


def archived(target: Target, key: str) -> bytes:
    return bytes(target.s3.get_object(Bucket=target.archive_bucket, Key=key)["Body"].read())


def csv_rows(n: int) -> bytes:
    return ("id,label,value\n" + "".join(f"{i},row {i},{i * 0.5}\n" for i in range(n))).encode()


def test_boto3_uploads_end_where_they_should(target: Target) -> None:
    large = csv_rows(20_000)
    assert len(large) > THRESHOLD
    files = {
        "in/small.csv": csv_rows(3),
        "in/large.csv": large,
        "in/broken.csv": b"id,label\n1,a\n2,b,c\n",
        "in/Q3 résumé + notes ✓.txt": "ünïcödé\n".encode(),
        "in/empty.bin": b"",
        "in/folder/": b"",
    }
    for key, body in files.items():
        target.s3.put_object(Bucket=target.staging_bucket, Key=key, Body=body)
    views = by_key(settle(target, len(files)))

    assert staging_versions(target) == [], "staging holds nothing: no versions, no delete markers"
    assert {k: v.status for k, v in views.items()} == {
        "in/small.csv": "SUCCEEDED",
        "in/large.csv": "SUCCEEDED",
        "in/broken.csv": "FAILED",
        "in/Q3 résumé + notes ✓.txt": "SUCCEEDED",
        "in/empty.bin": "SUCCEEDED",
        "in/folder/": "SUCCEEDED",
    }
    assert views["in/large.csv"].path == "batch"
    assert {views[k].path for k in files if k != "in/large.csv"} == {"lambda"}

    for key, body in files.items():
        if key != "in/broken.csv":
            assert archived(target, f"originals/{key}") == body, key
    for key in ("in/small.csv", "in/large.csv"):
        table = pq.read_table(io.BytesIO(archived(target, f"outputs/{key}/data.parquet")))
        assert table.num_rows == files[key].count(b"\n") - 1
        assert table.column_names == ["id", "label", "value"]
    manifest = json.loads(archived(target, "outputs/in/Q3 résumé + notes ✓.txt/manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(files["in/Q3 résumé + notes ✓.txt"]).hexdigest()
    assert manifest["contentType"] == "text/plain"

    assert archived(target, "failed/in/broken.csv") == files["in/broken.csv"]
    record = json.loads(archived(target, "errors/in/broken.csv.json"))
    assert record["error"] == "TransformRejected"
    assert "Expected 2 columns, got 3" in record["cause"]["errorMessage"]
    assert record["execution"] == views["in/broken.csv"].arn
    assert record["attempts"] == 1
    assert views["in/broken.csv"].error == "TransformRejected", "the execution fails with the real error"


def test_the_batch_path_runs_the_worker_with_the_job_definitions_environment(cloud: LocalCloud, target: Target) -> None:
    target.s3.put_object(Bucket=target.staging_bucket, Key="big.csv", Body=csv_rows(20_000))
    (view,) = settle(target, 1)
    assert (view.path, view.status) == ("batch", "SUCCEEDED")
    assert cloud.batch is not None
    (job,) = cloud.batch.jobs.values()
    assert job.command == ["python", "-m", "batch_image.worker"]
    assert job.environment["STAGING_BUCKET"] == target.staging_bucket
    assert json.loads(job.environment["FILEPIPE_OBJECT"])["key"] == "big.csv"
    assert job.environment["FILEPIPE_EXECUTION"] == view.arn
    assert job.environment["MANAGED_BY_AWS"] == "STARTED_BY_STEP_FUNCTIONS"
    assert job.attempts[0]["container"]["exitCode"] == 0


def aws_cli(cloud: LocalCloud, *args: str, key: str = "test", secret: str = "test", check: bool = True) -> str:
    """The AWS CLI as the README tells a developer to run it: the local cloud's ``test`` key."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"}
    env |= {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [tool("aws"), "--endpoint-url", cloud.endpoint, *args], capture_output=True, text=True, env=env, check=False
    )
    if not check:
        return result.stderr
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_aws_cli_uploads_and_reads_execution_history(cloud: LocalCloud, target: Target, tmp_path: Path) -> None:
    local = tmp_path / "report 2026 + final.csv"
    local.write_bytes(csv_rows(10))
    aws_cli(cloud, "s3", "cp", str(local), "s3://filepipe-staging/cli uploads/")
    (view,) = settle(target, 1)
    assert view.key == "cli uploads/report 2026 + final.csv"
    assert view.status == "SUCCEEDED"
    assert archived(target, "originals/cli uploads/report 2026 + final.csv") == local.read_bytes()

    listed = json.loads(
        aws_cli(cloud, "stepfunctions", "list-executions", "--state-machine-arn", cloud.state_machine_arn)
    )
    assert [e["status"] for e in listed["executions"]] == ["SUCCEEDED"]
    history = json.loads(aws_cli(cloud, "stepfunctions", "get-execution-history", "--execution-arn", view.arn))
    entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
    assert entered == ["Route", "TransformOnLambda", "Archive", "Done"]
    listing = aws_cli(cloud, "s3", "ls", "--recursive", "s3://filepipe-archive/")
    assert "originals/cli uploads/report 2026 + final.csv" in listing


def test_the_aws_cli_is_refused_with_a_key_the_local_cloud_does_not_know(cloud: LocalCloud, tmp_path: Path) -> None:
    local = tmp_path / "x.csv"
    local.write_bytes(csv_rows(2))
    unknown = aws_cli(cloud, "s3", "cp", str(local), "s3://filepipe-staging/", key="AKIAUNKNOWN", check=False)
    assert "InvalidAccessKeyId" in unknown
    wrong_secret = aws_cli(cloud, "s3", "ls", "s3://filepipe-staging/", secret="not-test", check=False)
    assert "SignatureDoesNotMatch" in wrong_secret
    assert cloud.client("s3").list_objects_v2(Bucket=cloud.config.staging_bucket)["KeyCount"] == 0


def test_a_repeated_notification_processes_the_file_once(cloud: LocalCloud, target: Target) -> None:
    target.s3.put_object(Bucket=target.staging_bucket, Key="once.txt", Body=b"x")
    (view,) = settle(target, 1)
    sqs = cloud.client("sqs")
    state = json.loads(target.sfn.describe_execution(executionArn=view.arn)["input"])
    duplicate = notification_for(state)
    sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=json.dumps(duplicate))
    deadline_messages = _drain(sqs, cloud.queue_url)
    assert deadline_messages == 0
    executions = target.sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert len(target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix="originals/")["Versions"]) == 1


def _drain(sqs: Any, url: str, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        if waiting == 0:
            return 0
        time.sleep(0.2)
    return waiting


def output_of(target: Target, arn: str) -> dict[str, Any]:
    return dict(json.loads(target.sfn.describe_execution(executionArn=arn).get("output") or "{}"))


def test_both_paths_tell_the_same_rejection_and_the_same_summary(cloud: LocalCloud, target: Target) -> None:
    """One file through the Lambda and the Batch path: a rejection carries the transform's own
    message to the record and the execution either way, and a success its summary."""
    bad = csv_rows(50) + b"1,2,3,4\n"
    good = csv_rows(70)
    target.s3.put_object(Bucket=target.staging_bucket, Key="lambda/bad.csv", Body=bad)
    target.s3.put_object(Bucket=target.staging_bucket, Key="lambda/good.csv", Body=good)
    settle(target, 2)
    cloud.redefine(LargeFileThresholdBytes=0)
    target.s3.put_object(Bucket=target.staging_bucket, Key="batch/bad.csv", Body=bad)
    target.s3.put_object(Bucket=target.staging_bucket, Key="batch/good.csv", Body=good)
    views = by_key(settle(target, 4))
    assert {views[k].path for k in ("batch/bad.csv", "batch/good.csv")} == {"batch"}
    told = {}
    for path in ("lambda", "batch"):
        record = json.loads(archived(target, f"errors/{path}/bad.csv.json"))
        told[path] = (record["error"], record["cause"]["errorMessage"].replace(f"{path}/bad.csv", "KEY"))
        described = target.sfn.describe_execution(executionArn=views[f"{path}/bad.csv"].arn)
        assert described["error"] == "TransformRejected"
        assert "Expected" in json.loads(described["cause"])["errorMessage"]
        summary = output_of(target, views[f"{path}/good.csv"].arn)["archived"]["summary"]
        assert summary["rows"] == 70 and summary["columns"]
    assert told["lambda"] == told["batch"]
    assert told["lambda"][0] == "TransformRejected" and "Expected" in told["lambda"][1]
    record = json.loads(archived(target, "errors/batch/bad.csv.json"))
    assert record["cause"]["batchJob"]["exitCode"] == 65


def test_a_notification_fanned_out_through_sns_is_processed(cloud: LocalCloud, target: Target) -> None:
    """The bucket's events reach the queue inside SNS envelopes (a topic between them)."""
    s3 = cloud.client("s3")
    s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    put = target.s3.put_object(Bucket=target.staging_bucket, Key="fanout/a b.csv", Body=csv_rows(3))
    state = {
        "bucket": target.staging_bucket,
        "key": "fanout/a b.csv",
        "versionId": put["VersionId"],
        "etag": put["ETag"].strip('"'),
        "size": len(csv_rows(3)),
        "sequencer": "0000000000000001",
        "eventTime": "2026-11-28T00:00:00.000Z",
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads-fanout",
        "Message": json.dumps(notification_for(state)),
    }
    cloud.client("sqs").send_message(QueueUrl=cloud.queue_url, MessageBody=json.dumps(envelope))
    (view,) = settle(target, 1)
    assert (view.key, view.status) == ("fanout/a b.csv", "SUCCEEDED")
    assert archived(target, "originals/fanout/a b.csv") == csv_rows(3)


def test_a_burst_waits_for_the_transform_in_the_engine_not_in_the_endpoint(cloud: LocalCloud, target: Target) -> None:
    """Executions waiting their turn at a function hold a thread each, not also a connection and
    a server thread (10,000 of those ran the endpoint out of file descriptors): at most twice the
    function's concurrency of its invocations reach the endpoint at once, and every file ends."""
    files, reached, most = 40, [0], [0]
    lock = threading.Lock()

    def slow_transform(name: str, event: Any) -> None:
        if name != "filepipe-transform":
            return
        with lock:
            reached[0] += 1
            most[0] = max(most[0], reached[0])
        time.sleep(0.3)
        with lock:
            reached[0] -= 1

    cloud.lambdas.interceptors.append(slow_transform)
    with ThreadPoolExecutor(8) as pool:
        put = target.s3.put_object
        list(pool.map(lambda i: put(Bucket=target.staging_bucket, Key=f"burst/{i}.txt", Body=b"x"), range(files)))
    views = settle(target, files, timeout=180)
    assert [v.status for v in views] == ["SUCCEEDED"] * files
    assert len(target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/burst/")["Contents"]) == files
    assert 2 <= most[0] <= SENT_PER_SLOT * cloud.config.function_concurrency < files
