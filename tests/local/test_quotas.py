"""AWS's limits in the local cloud, and the pipeline within them: Lambda's payloads, Batch's
Fargate sizes, and S3's size limits (lowered 1,024-fold so a test reaches them with megabytes)."""

from __future__ import annotations

import io
import json

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from filepipe.local import LocalCloud, adapter
from filepipe.local.lambdas import LocalFunction
from filepipe.operations import Target
from tests.local.helpers import THRESHOLD, settle

pytestmark = pytest.mark.local
MiB = 1024 * 1024


def invoke(cloud: LocalCloud, function: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    client = cloud.client("lambda")
    try:
        answer = client.invoke(FunctionName=function, Payload=payload)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], {}, exc.response["Error"]["Code"].encode()
    return answer["StatusCode"], {"error": answer.get("FunctionError", "")}, answer["Payload"].read()


def test_lambda_refuses_a_request_and_a_response_over_6_mb(cloud: LocalCloud) -> None:
    if not cloud.lambdas.knows("filepipe-test-sized"):
        cloud.lambdas.add(LocalFunction("filepipe-test-sized", "tests.local.sample_handlers.sized", 256, 30))
    status, _, code = invoke(cloud, "filepipe-test-sized", json.dumps({"pad": "x" * (6 * MiB)}).encode())
    assert (status, code) == (413, b"RequestEntityTooLargeException")
    status, error, body = invoke(cloud, "filepipe-test-sized", json.dumps({"bytes": 6 * MiB + 200}).encode())
    assert (status, error["error"]) == (200, "Unhandled")
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"
    status, error, body = invoke(cloud, "filepipe-test-sized", json.dumps({"bytes": 6 * MiB - 100}).encode())
    assert (status, error["error"], len(body)) == (200, "", 6 * MiB - 100)


def test_batch_refuses_a_job_size_fargate_has_not(cloud: LocalCloud) -> None:
    from filepipe.local.batch import LocalBatch

    with pytest.raises(ValueError, match="4 vCPU, memory is 8192 to 30720"):
        LocalBatch(queue_arn="q", definition_arn="d", environment={}, runner=cloud.batch.runner, vcpus=4)  # type: ignore[union-attr]
    batch = cloud.client("batch")
    base = {"jobName": "sized", "jobQueue": cloud.job_queue_arn, "jobDefinition": cloud.job_definition_arn}
    for vcpus, memory in (("3", "6144"), ("1", "16384")):
        size = [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]
        with pytest.raises(ClientError) as refused:
            batch.submit_job(**base, containerOverrides={"resourceRequirements": size})
        assert refused.value.response["Error"]["Code"] == "ClientException"
    assert cloud.batch is not None and cloud.batch.jobs == {}, "nothing ran"


def test_the_pipeline_holds_at_s3s_size_limits(
    cloud: LocalCloud, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PUTs, copies and parts of at most 5 MiB (5 GiB in AWS), and a 12 MiB file: uploaded in
    parts, transformed on Batch with 5 MiB output parts, archived by a copy in parts. A step
    that sent one larger request would be refused, and the file would end failed."""
    for limit in ("MAX_SINGLE_PUT", "MAX_COPY_SOURCE", "MAX_PART"):
        monkeypatch.setattr(adapter.quotas, limit, 5 * MiB)
    lowered = {
        "COPY_MULTIPART_THRESHOLD": str(5 * MiB),
        "COPY_PART_SIZE": str(5 * MiB),
        "WRITE_PART_SIZE": str(5 * MiB),
    }
    for principal in ("transform", "archive", "failure"):
        cloud.lambdas.update_environment(cloud.functions[principal].name, lowered)
    assert cloud.batch is not None
    for name, value in lowered.items():
        monkeypatch.setitem(cloud.batch.environment, name, value)
    rows = b"".join(b"%d,%s\n" % (n, b"x" * 40) for n in range(12 * MiB // 48))
    body = b"id,text\n" + rows
    with pytest.raises(ClientError, match="EntityTooLarge"):
        target.s3.put_object(Bucket=target.staging_bucket, Key="limits/control.csv", Body=body)
    parts = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    target.s3.upload_fileobj(io.BytesIO(body), target.staging_bucket, "limits/wide.csv", Config=parts)
    (view,) = settle(target, 1, timeout=120)
    assert (view.path, view.status, view.outcome) == ("batch", "SUCCEEDED", "originals/limits/wide.csv")
    assert len(body) > THRESHOLD
    archived = target.s3.head_object(Bucket=target.archive_bucket, Key="originals/limits/wide.csv")
    assert archived["ContentLength"] == len(body) and archived["ETag"].endswith('-3"'), "copied in 3 parts"


def test_a_large_copy_runs_in_as_many_invocations_as_it_needs(
    cloud: LocalCloud, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No invocation copies more than fits in its time: with copies in 5 MiB parts and no time
    to spare, the archive step and the failure move copy one part per invocation and loop until
    the copy is done (in AWS: 48.8 TiB in about 420 invocations of 15 minutes), ending archived
    and failed, not stranded in staging."""
    lowered = {"COPY_MULTIPART_THRESHOLD": str(5 * MiB), "COPY_PART_SIZE": str(5 * MiB), "COPY_BUDGET_SECONDS": "0"}
    for principal in ("archive", "failure"):
        cloud.lambdas.update_environment(cloud.functions[principal].name, lowered)
    rows = b"".join(b"%d,%s\n" % (n, b"y" * 40) for n in range(22 * MiB // 48))
    parts = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    target.s3.upload_fileobj(io.BytesIO(b"id,text\n" + rows), target.staging_bucket, "parts/good.csv", Config=parts)
    (good,) = settle(target, 1, timeout=120)
    assert (good.path, good.status, good.outcome) == ("batch", "SUCCEEDED", "originals/parts/good.csv")
    archived = target.s3.head_object(Bucket=target.archive_bucket, Key="originals/parts/good.csv")
    assert archived["ETag"].endswith('-5"') and archived["ContentLength"] == len(rows) + 8
    assert cloud.lambdas.invocations[cloud.functions["archive"].name] == 5, "one part per invocation"

    bad = b"id,text\n" + rows + b"1,2,3\n"
    target.s3.upload_fileobj(io.BytesIO(bad), target.staging_bucket, "parts/bad.csv", Config=parts)
    views = {v.key: v for v in settle(target, 2, timeout=120)}
    assert (views["parts/bad.csv"].status, views["parts/bad.csv"].outcome) == ("FAILED", "failed/parts/bad.csv")
    assert cloud.lambdas.invocations[cloud.functions["failure"].name] == 5 + 1, "one part each, then the verdict"
    failed = target.s3.head_object(Bucket=target.archive_bucket, Key="failed/parts/bad.csv")
    assert failed["ContentLength"] == len(bad)
    assert target.s3.list_objects_v2(Bucket=target.staging_bucket).get("KeyCount") == 0
