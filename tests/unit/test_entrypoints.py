"""The thin entrypoints: the Lambda handlers and the Batch worker, on moto's S3."""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from batch_image import worker
from filepipe import runtime
from filepipe.claims import DuplicateExecution, WouldNotFit
from filepipe.config import Settings
from filepipe.errors import TransformRejected, TransientError
from filepipe.events import ObjectRef
from filepipe.transforms.csv_to_parquet import CsvToParquet
from moves_lambda import handler as moves
from tests.conftest import REGION, Faulty, keys, read, tool, upload
from transform_lambda import handler as transform
from trigger_lambda import handler as trigger

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LambdaContext:
    function_name: str = "filepipe-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:filepipe-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/filepipe-test"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The variables the stack gives every function; cached clients rebuilt inside moto."""
    monkeypatch.setenv("STAGING_BUCKET", settings.staging_bucket)
    monkeypatch.setenv("ARCHIVE_BUCKET", settings.archive_bucket)
    runtime.reset()
    yield
    runtime.reset()


def task(ref: ObjectRef, **extra: Any) -> dict[str, Any]:
    return {"object": ref.to_state(), "execution": "arn:aws:states:us-east-1:1:execution:m:e1"} | extra


def test_transform_then_archive_handlers(s3: Any, env: None) -> None:
    ref = upload(s3, "in/report q1.csv", b"a,b\n1,2\n")
    result = transform.handler(task(ref), LambdaContext())
    assert result == {
        "status": "transformed",
        "transform": "csv-to-parquet",
        "output": "outputs/in/report q1.csv/data.parquet",
        "summary": {"rows": 1, "columns": ["a", "b"], "dialect": {"delimiter": ",", "header": True}},
    }
    with_result = task(ref)
    with_result["object"]["transformed"] = result
    assert moves.archive_handler(with_result, LambdaContext()) == {
        "status": "archived",
        "location": "originals/in/report q1.csv",
        "resolved": None,
        "copy": None,
        "summary": result["summary"],
    }
    assert keys(s3, "staging") == []
    metadata = s3.head_object(Bucket="archive", Key=result["output"])["Metadata"]
    assert (metadata["filepipe-transform"], metadata["filepipe-transform-version"]) == (
        "csv-to-parquet",
        CsvToParquet.version,
    )
    assert metadata["filepipe-source-version"] == ref.version_id


def test_transform_rejection_is_a_named_permanent_error(s3: Any, env: None) -> None:
    from filepipe.errors import TransformRejected

    ref = upload(s3, "bad.csv", b"a,b\n1,2,3\n")
    with pytest.raises(TransformRejected):
        transform.handler(task(ref), LambdaContext())


def test_throttled_s3_becomes_a_transient_error(s3: Any, env: None) -> None:
    from filepipe.errors import TransientError

    ref = upload(s3, "k.txt", b"x")
    runtime.reset()
    slow = Faulty(s3, {"head_object": ["SlowDown"]})
    with pytest.raises(TransientError, match="SlowDown"):
        transform.process(slow, ref, runtime.settings())


def test_failure_handler_writes_the_record_from_the_caught_error(s3: Any, env: None) -> None:
    ref = upload(s3, "bad.csv", b"x")
    error = {"Error": "TransformRejected", "Cause": json.dumps({"errorMessage": "nope"})}
    result = moves.failure_handler(task(ref, error=error), LambdaContext())
    assert result["status"] == "failed"
    record = json.loads(read(s3, "archive", "errors/bad.csv.json"))
    assert (record["error"], record["cause"], record["execution"]) == (
        "TransformRejected",
        {"errorMessage": "nope"},
        "arn:aws:states:us-east-1:1:execution:m:e1",
    )


def test_handlers_log_json_with_key_and_execution(s3: Any, env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(transform.logger.registered_handler, "stream", stream)
    ref = upload(s3, "k.txt", b"x")
    transform.handler(task(ref), LambdaContext())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    done = [line for line in lines if line.get("message") == "transform done"]
    assert done and done[0]["key"] == "k.txt"
    assert done[0]["execution"] == "arn:aws:states:us-east-1:1:execution:m:e1"
    assert done[0]["function_request_id"] == LambdaContext.aws_request_id


def test_each_file_ending_is_one_metric_by_outcome_tier_and_path(
    s3: Any, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Powertools Metrics in CloudWatch's embedded format: what the dashboard's widgets search."""
    express = "arn:aws:states:us-east-1:1:express:filepipe-express:e1:0a1b"
    good, bad = upload(s3, "ok.csv", b"a\n1\n"), upload(s3, "bad.csv", b"a,b\n1,2,3\n")
    capsys.readouterr()
    transform.handler(task(good, execution=express), LambdaContext())
    moves.archive_handler(task(good, execution=express), LambdaContext())
    failed = task(bad, error={"Error": "TransformRejected", "Cause": "{}"})
    failed["object"]["transformed"] = {"jobId": "j-1", "status": "FAILED"}
    moves.failure_handler(failed, LambdaContext())
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    files = [(m["outcome"], m["tier"], m["path"], m["Files"], m["Bytes"]) for m in emitted if "Files" in m]
    assert files == [("archived", "express", "lambda", [1.0], [4.0]), ("failed", "standard", "batch", [1.0], [10.0])]
    (transformed,) = [m for m in emitted if "TransformSeconds" in m]
    assert transformed["tier"] == "express" and transformed["BytesTransformed"] == [4.0]
    assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "filepipe"


EXPRESS = "arn:aws:states:us-east-1:1:express:filepipe-express:e1:0a1b"


def _failures(out: str) -> list[tuple[str, list[float]]]:
    emitted = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [(m["tier"], m["TransformFailures"]) for m in emitted if "TransformFailures" in m]


@pytest.mark.parametrize(
    ("raised", "counted"),
    [
        (DuplicateExecution("another execution took this version first"), False),
        (WouldNotFit("would not finish within five minutes"), False),
        (TransformRejected("malformed"), True),
        (TransientError("SlowDown"), True),
        (RuntimeError("a bug"), True),
    ],
)
def test_only_real_failures_count_for_the_transform_alarm(
    s3: Any,
    env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    counted: bool,
) -> None:
    """A duplicate and a hand-over are Lambda errors the workflow routes by name: counting them
    (Lambda's Errors) fired the TransformErrors alarm on every Express duplicate."""
    ref = upload(s3, "ok.csv", b"a\n1\n")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(transform, "process", fail)
    capsys.readouterr()
    with pytest.raises(type(raised)):
        transform.handler(task(ref, execution=EXPRESS), LambdaContext())
    assert _failures(capsys.readouterr().out) == ([("express", [1.0])] if counted else [])


def test_a_real_hand_over_and_a_real_rejection(
    s3: Any, env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = upload(s3, "ok.csv", b"a\n1\n"), upload(s3, "bad.csv", b"a,b\n1,2,3\n")
    monkeypatch.setenv("EXPRESS_TRANSFORM_SECONDS", "0")
    capsys.readouterr()
    with pytest.raises(WouldNotFit):
        transform.handler(task(good, execution=EXPRESS), LambdaContext())
    with pytest.raises(TransformRejected):
        transform.handler(task(bad), LambdaContext())
    assert _failures(capsys.readouterr().out) == [("standard", [1.0])]


def test_trigger_handler_returns_batch_item_failures(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps({"StartAt": "D", "States": {"D": {"Type": "Succeed"}}})
    arn = sfn.create_state_machine(name="m", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")
    monkeypatch.setenv("STATE_MACHINE_ARN", arn["stateMachineArn"])
    runtime.reset()
    event = json.loads((ROOT / "tests/events/sqs_batch.json").read_text())
    event["Records"][1]["body"] = "not json"
    try:
        result = trigger.handler(event, LambdaContext())
    finally:
        runtime.reset()
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    assert len(sfn.list_executions(stateMachineArn=arn["stateMachineArn"])["executions"]) == 3


class TestWorker:
    def test_success_exits_zero(self, s3: Any, env: None, monkeypatch: pytest.MonkeyPatch) -> None:
        from filepipe.transforms import _csv_dialect

        children = []
        in_a_child = _csv_dialect._in_a_child
        monkeypatch.setattr(_csv_dialect, "_in_a_child", lambda *asked: children.append(asked) or in_a_child(*asked))
        ref = upload(s3, "big.csv", b"a;b\n1;2\n")
        code = worker.main(["--object", json.dumps(ref.to_state()), "--execution", "e"])
        assert code == worker.EXIT_OK
        assert "outputs/big.csv/data.parquet" in keys(s3, "archive")
        assert len(children) == 1, "the worker sniffs in a child process, DuckDB out of its own"
        table = pq.read_table(io.BytesIO(read(s3, "archive", "outputs/big.csv/data.parquet")))
        assert table.column_names == ["a", "b"], "the child's dialect was used"

    def test_object_from_the_environment(self, s3: Any, env: None, monkeypatch: pytest.MonkeyPatch) -> None:
        ref = upload(s3, "env.txt", b"x")
        monkeypatch.setenv("FILEPIPE_OBJECT", json.dumps(ref.to_state()))
        assert worker.main([]) == worker.EXIT_OK

    def test_rejected_input_exits_with_the_permanent_code(self, s3: Any, env: None) -> None:
        ref = upload(s3, "bad.csv", b"a,b\n1,2,3\n")
        assert worker.main(["--object", json.dumps(ref.to_state())]) == worker.EXIT_PERMANENT

    @pytest.mark.parametrize("value", ["", "not json", "{}", '{"bucket": "b"}'])
    def test_unusable_object_reference_is_permanent(
        self, env: None, value: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert worker.main(["--object", value]) == worker.EXIT_PERMANENT

    def test_throttling_exits_with_the_transient_code(
        self, s3: Any, env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ref = upload(s3, "k.txt", b"x")
        monkeypatch.setattr(worker, "s3_client", lambda: Faulty(s3, {"head_object": ["SlowDown"]}))
        assert worker.main(["--object", json.dumps(ref.to_state())]) == worker.EXIT_TRANSIENT


def test_lambda_and_batch_paths_write_byte_identical_outputs(s3: Any, env: None) -> None:
    """The same objects through both entrypoints: the outputs must not differ by a byte."""
    rows = "".join(f"{i},name {i},{i / 7:.5f}\n" for i in range(20_000))
    inputs = {"t.csv": ("id,name,score\n" + rows).encode(), "blob.bin": bytes(range(256)) * 999}
    outputs: dict[str, dict[str, bytes]] = {"lambda": {}, "batch": {}}
    for path in ("lambda", "batch"):
        for key, body in inputs.items():
            ref = upload(s3, key, body)
            if path == "lambda":
                output = transform.handler(task(ref), LambdaContext())["output"]
            else:
                assert worker.main(["--object", json.dumps(ref.to_state())]) == 0
                output = f"outputs/{key}/" + ("data.parquet" if key.endswith(".csv") else "manifest.json")
            outputs[path][key] = read(s3, "archive", output)
            s3.delete_object(Bucket="staging", Key=key, VersionId=ref.version_id)
    assert outputs["lambda"] == outputs["batch"]
    table = pq.read_table(io.BytesIO(outputs["batch"]["t.csv"]))
    assert table.num_rows == 20_000


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_really_checking(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    result = subprocess.run([tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "DL3007" in result.stdout


logging.getLogger("botocore").setLevel(logging.WARNING)


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("eu-west-2", "https://cognito-idp.eu-west-2.amazonaws.com/"),
        ("cn-north-1", "https://cognito-idp.cn-north-1.amazonaws.com.cn/"),
    ],
)
def test_the_page_signs_in_at_its_regions_cognito_host(
    monkeypatch: pytest.MonkeyPatch, region: str, endpoint: str
) -> None:
    from upload_api import handler as upload_api

    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.delenv("COGNITO_ENDPOINT", raising=False)
    for name, value in {"UPLOAD_AUTH": "cognito", "USER_POOL_ID": "pool", "USER_POOL_CLIENT_ID": "client"}.items():
        monkeypatch.setenv(name, value)
    config = json.loads(upload_api.page_config().body)
    assert config["cognitoEndpoint"] == endpoint
