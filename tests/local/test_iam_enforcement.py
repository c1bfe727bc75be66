"""The local cloud refuses what AWS refuses: unknown keys, wrong secrets, expired sessions,
tampered or expired presigned URLs, calls a role (or its session policy) does not allow, and
unsigned calls to any AWS API route. The canaries in test_moto_adapter.py show moto alone would
let each of these through."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from filepipe.grants import PRINCIPALS, Bucket, grant_covering
from filepipe.local import LocalCloud
from filepipe.uploads import session_policy

pytestmark = pytest.mark.local


def signed_as(cloud: LocalCloud, credentials: dict[str, Any], service: str, signature: str = "v4") -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["access_key"],
        aws_secret_access_key=credentials["secret_key"],
        aws_session_token=credentials.get("token"),
        config=Config(retries={"max_attempts": 1}, **_signature(service, signature)),
    )


def _signature(service: str, version: str) -> dict[str, str]:
    """S3 presigns with Signature Version 4 only when told (the upload API tells it)."""
    if service != "s3":
        return {}
    return {"signature_version": "s3v4" if version == "v4" else "s3"}


def role(cloud: LocalCloud, principal: str, service: str, seconds: int = 3600) -> Any:
    return signed_as(cloud, cloud.identities.session(principal, seconds), service)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except HTTPError as error:
        return error.code, error.read()


def test_keys_secrets_and_sessions_are_checked(cloud: LocalCloud) -> None:
    staging = cloud.config.staging_bucket
    unknown = signed_as(cloud, {"access_key": "AKIAUNKNOWN0000000000", "secret_key": "x"}, "s3")
    assert refused(lambda: unknown.list_objects_v2(Bucket=staging)) == (403, "InvalidAccessKeyId")
    wrong = signed_as(cloud, {"access_key": "test", "secret_key": "wrong"}, "s3")
    assert refused(lambda: wrong.list_objects_v2(Bucket=staging)) == (403, "SignatureDoesNotMatch")
    session = cloud.identities.session("transform")
    forged = signed_as(cloud, session | {"token": "forged"}, "s3")
    assert refused(lambda: forged.list_objects_v2(Bucket=staging))[1] == "InvalidToken"
    ending = role(cloud, "transform", "s3", seconds=1)
    time.sleep(1.5)
    assert refused(lambda: ending.list_objects_v2(Bucket=staging)) == (400, "ExpiredToken")
    assert role(cloud, "transform", "s3").list_objects_v2(Bucket=staging)["KeyCount"] == 0


def test_each_role_gets_its_grants_and_nothing_else(cloud: LocalCloud) -> None:
    archive = cloud.config.archive_bucket
    cloud.client("s3").put_object(Bucket=archive, Key="failed/in/a+b (1).csv", Body=b"a\n1\n")
    transform = role(cloud, "transform", "s3")
    assert transform.get_object(Bucket=archive, Key="failed/in/a+b (1).csv")["Body"].read() == b"a\n1\n"
    transform.put_object(Bucket=archive, Key="outputs/in/a+b (1).csv/x", Body=b"out")
    assert refused(lambda: transform.put_object(Bucket=archive, Key="originals/x", Body=b"")) == (403, "AccessDenied")
    assert refused(lambda: transform.delete_object(Bucket=archive, Key="failed/in/a+b (1).csv")) == (
        403,
        "AccessDenied",
    )
    trigger = role(cloud, "trigger", "stepfunctions")
    assert refused(lambda: trigger.list_executions(stateMachineArn=cloud.state_machine_arn))[1].startswith(
        "AccessDenied"
    )
    api = role(cloud, "upload_api", "stepfunctions")
    missing = f"{cloud.state_machine_arn.replace(':stateMachine:', ':execution:')}:none"
    assert refused(lambda: api.describe_execution(executionArn=missing))[1] == "ExecutionDoesNotExist"
    assert refused(lambda: api.list_executions(stateMachineArn=cloud.state_machine_arn))[1].startswith(
        "AccessDenied"
    ), "the status finds an execution by its name: it lists none"


def test_a_copy_needs_read_access_to_its_source(cloud: LocalCloud) -> None:
    archive = cloud.config.archive_bucket
    cloud.client("s3").put_object(Bucket=archive, Key="originals/secret.csv", Body=b"s")
    cloud.client("s3").put_object(Bucket=archive, Key="failed/ok.csv", Body=b"o")
    transform = role(cloud, "transform", "s3")
    transform.copy_object(Bucket=archive, Key="outputs/ok", CopySource={"Bucket": archive, "Key": "failed/ok.csv"})
    steal = {"Bucket": archive, "Key": "originals/secret.csv"}
    assert refused(lambda: transform.copy_object(Bucket=archive, Key="outputs/x", CopySource=steal)) == (
        403,
        "AccessDenied",
    )


def test_a_missing_key_is_403_without_list_bucket(cloud: LocalCloud) -> None:
    staging = cloud.config.staging_bucket
    assert refused(lambda: role(cloud, "transform", "s3").head_object(Bucket=staging, Key="nope"))[0] == 404
    cloud.identities.revoke("transform", grant_covering(PRINCIPALS["transform"], Bucket("staging")))
    assert refused(lambda: role(cloud, "transform", "s3").head_object(Bucket=staging, Key="nope"))[0] == 403


def test_a_session_policy_narrows_the_role_to_one_key(cloud: LocalCloud) -> None:
    staging = cloud.config.staging_bucket
    sts = role(cloud, "upload_api", "sts")
    upload_role = cloud.naming.role_arn("upload")
    policy = json.dumps(session_policy(staging, "uploads/mine.bin"))
    granted = sts.assume_role(RoleArn=upload_role, RoleSessionName="one-key", Policy=policy, DurationSeconds=900)
    narrowed = signed_as(cloud, _credentials(granted), "s3")
    narrowed.put_object(Bucket=staging, Key="uploads/mine.bin", Body=b"1")
    assert refused(lambda: narrowed.put_object(Bucket=staging, Key="uploads/other.bin", Body=b"2")) == (
        403,
        "AccessDenied",
    )
    whole = signed_as(cloud, _credentials(sts.assume_role(RoleArn=upload_role, RoleSessionName="role")), "s3")
    whole.put_object(Bucket=staging, Key="uploads/other.bin", Body=b"2")


def test_assume_role_keeps_to_trust_and_session_limits(cloud: LocalCloud) -> None:
    upload_role = cloud.naming.role_arn("upload")
    api = role(cloud, "upload_api", "sts")
    assert refused(lambda: api.assume_role(RoleArn=upload_role, RoleSessionName="xx", DurationSeconds=7200)) == (
        400,
        "ValidationError",
    ), "a role session may chain for one hour at most"
    long_policy = json.dumps({"Version": "2012-10-17", "Statement": [], "Padding": "x" * 2100})
    assert refused(lambda: api.assume_role(RoleArn=upload_role, RoleSessionName="xx", Policy=long_policy))[1] == (
        "ValidationError"
    )
    other = role(cloud, "transform", "sts")
    assert refused(lambda: other.assume_role(RoleArn=upload_role, RoleSessionName="xx"))[0] == 403


def test_presigned_urls_are_verified(cloud: LocalCloud) -> None:
    staging = cloud.config.staging_bucket
    signer = role(cloud, "upload_api", "s3")  # Signature Version 4, as the upload API presigns

    def presign(key: str, content_type: str = "text/csv", expires: int = 600) -> str:
        params = {"Bucket": staging, "Key": key, "ContentType": content_type}
        return str(signer.generate_presigned_url("put_object", Params=params, ExpiresIn=expires))

    url = presign("uploads/ok file+1.csv")
    assert http("PUT", url, b"a,b\n", {"Content-Type": "text/csv"})[0] == 200
    assert cloud.client("s3").get_object(Bucket=staging, Key="uploads/ok file+1.csv")["Body"].read() == b"a,b\n"
    tampered = url.replace("ok%20file", "other%20file")
    status, body = http("PUT", tampered, b"x", {"Content-Type": "text/csv"})
    assert (status, b"SignatureDoesNotMatch" in body) == (403, True)
    status, body = http("PUT", presign("uploads/typed.csv"), b"x", {"Content-Type": "text/html"})
    assert (status, b"SignatureDoesNotMatch" in body) == (403, True), "the content type is signed"
    expired = presign("uploads/late.csv", expires=1)
    time.sleep(2)
    status, body = http("PUT", expired, b"x", {"Content-Type": "text/csv"})
    assert (status, b"expired" in body) == (403, True)
    outside = presign("elsewhere/x.csv")
    status, body = http("PUT", outside, b"x", {"Content-Type": "text/csv"})
    assert (status, b"AccessDenied" in body) == (403, True), "a presigned URL carries its signer's permissions"
    assert http("PUT", f"{cloud.endpoint}/{staging}/uploads/anon.csv", b"x")[0] == 403, "unsigned"
    version2 = signed_as(cloud, cloud.identities.session("upload_api"), "s3", signature="v2")
    legacy = version2.generate_presigned_url("put_object", Params={"Bucket": staging, "Key": "uploads/v2.csv"})
    status, body = http("PUT", legacy, b"x")
    assert (status, b"AWS4-HMAC-SHA256" in body) == (400, True), "S3 refuses Signature Version 2 on new buckets"


def test_every_aws_route_needs_a_signature_and_the_callers_permission(cloud: LocalCloud) -> None:
    transform_arn = cloud.lambdas.arn(cloud.functions["transform"].name)
    invoke = f"{cloud.endpoint}/2015-03-31/functions/{transform_arn}/invocations"
    status, body = http("POST", invoke, b"{}")
    assert (status, json.loads(body)["__type"]) == (403, "MissingAuthenticationTokenException")
    trigger = role(cloud, "trigger", "lambda")
    assert refused(lambda: trigger.invoke(FunctionName=transform_arn, Payload=b"{}")) == (403, "AccessDeniedException")
    status, body = http("POST", f"{cloud.endpoint}/v1/submitjob", json.dumps({"jobName": "x"}).encode())
    assert status == 403
    submit = {"jobName": "x", "jobQueue": cloud.job_queue_arn, "jobDefinition": cloud.job_definition_arn}
    batch = role(cloud, "transform", "batch")
    assert refused(lambda: batch.submit_job(**submit)) == (403, "AccessDeniedException")
    assert cloud.batch is not None and cloud.batch.jobs == {}, "nothing ran"
    assert role(cloud, "state_machine", "batch").describe_jobs(jobs=["none"])["jobs"] == []
    assert http("POST", f"{cloud.endpoint}/moto-api/reset")[0] == 403
    assert http("GET", f"{cloud.endpoint}/_filepipe/task-credentials", headers={"Authorization": "guess"})[0] == 403


def test_functions_run_with_their_roles_session_not_the_developers_key(cloud: LocalCloud) -> None:
    variables, _ = cloud.identities.environment("archive")
    assert variables["AWS_ACCESS_KEY_ID"] != "test" and variables["AWS_SESSION_TOKEN"]
    caller = signed_as(
        cloud,
        {
            "access_key": variables["AWS_ACCESS_KEY_ID"],
            "secret_key": variables["AWS_SECRET_ACCESS_KEY"],
            "token": variables["AWS_SESSION_TOKEN"],
        },
        "sts",
    ).get_caller_identity()
    assert caller["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/filepipe-archive/")
    assert "test" not in cloud.function_environment("archive").values()


def _credentials(answer: dict[str, Any]) -> dict[str, Any]:
    c = answer["Credentials"]
    return {"access_key": c["AccessKeyId"], "secret_key": c["SecretAccessKey"], "token": c["SessionToken"]}
