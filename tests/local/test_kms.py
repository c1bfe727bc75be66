"""Buckets under a KMS key (the stack's ``kmsKeyArn``), with S3 using the key as each caller:
the pipeline, uploads (presigned and multipart), backfill and reprocess hold, and a role or a
session without the key is refused as AWS refuses it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.grants import Kind, Named, grant_covering
from filepipe.local import LocalCloud
from filepipe.map_runs import start_backfill, start_reprocess
from filepipe.operations import Target
from filepipe.uploads import session_policy
from tests.local.helpers import PRESIGN_MAX, follow_map_run, settle
from tests.reliability.helpers import assert_conserved, upload

pytestmark = pytest.mark.local


@pytest.fixture
def kms(cloud: LocalCloud) -> str:
    cloud.use_kms(True)
    assert cloud.names.kms_key
    return cloud.names.kms_key


def encrypted_with(target: Target, bucket: str, key: str) -> str | None:
    return target.s3.head_object(Bucket=bucket, Key=key).get("SSEKMSKeyId")


def test_the_pipeline_and_both_uploads_hold_under_a_kms_key(
    cloud: LocalCloud, target: Target, kms: str, tmp_path: Path
) -> None:
    item = upload(target, "kms/cities.csv", b"city,population\nLagos,15388000\n")
    small = tmp_path / "small.csv"
    small.write_bytes(b"a,b\n1,2\n")
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(PRESIGN_MAX + 6 * 1024 * 1024))
    result = CliRunner().invoke(main, ["upload", "--endpoint", cloud.endpoint, "--wait", str(small), str(large)])
    assert result.exit_code == 0, result.output
    assert "MULTIPART" in result.output and "PUT" in result.output
    views = settle(target, 3)
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert encrypted_with(target, target.archive_bucket, "originals/kms/cities.csv") == kms
    assert encrypted_with(target, target.archive_bucket, "outputs/kms/cities.csv/data.parquet") == kms
    assert_conserved(target, [item])


def test_a_role_without_the_key_is_refused_by_s3(cloud: LocalCloud, target: Target, kms: str) -> None:
    """The mutation control: the transform's role without its KMS grant (as the stack had it
    before ``kmsKeyArn`` granted it) reads the original and is refused by S3, as in AWS."""
    transform = cloud.identities.principals["transform"]
    cloud.identities.revoke("transform", grant_covering(transform, Named(Kind.KMS_KEY)))
    upload(target, "kms/refused.csv", b"a,b\n1,2\n")
    (view,) = settle(target, 1)
    assert (view.status, view.error) == ("FAILED", "DeploymentError")
    cause = json.loads(target.sfn.describe_execution(executionArn=view.arn)["cause"])
    assert "kms:Decrypt" in cause["errorMessage"] or "kms:GenerateDataKey" in cause["errorMessage"]


def test_a_multipart_session_needs_the_key_in_its_policy(cloud: LocalCloud, target: Target, kms: str) -> None:
    """A session's permissions are its role's narrowed by its policy: a policy naming only S3
    actions (the grant before this change) leaves the session unable to have S3 use the key."""
    admin = cloud.client("sts")
    key = "uploads/2026/12/04/0123456789abcdef0123456789abcdef/parts.bin"
    sessions = {}
    for name, policy in (
        ("s3-only", session_policy(target.staging_bucket, key)),
        ("with-key", session_policy(target.staging_bucket, key, kms)),
    ):
        # The upload API's role may assume the upload role; sign as a session of it.
        api = cloud.identities.session("upload_api")
        sts = boto3.client(
            "sts",
            endpoint_url=cloud.endpoint,
            region_name="us-east-1",
            aws_access_key_id=api["access_key"],
            aws_secret_access_key=api["secret_key"],
            aws_session_token=api["token"],
        )
        credentials = sts.assume_role(
            RoleArn=cloud.naming.role_arn("upload"), RoleSessionName=name, Policy=json.dumps(policy)
        )["Credentials"]
        sessions[name] = boto3.client(
            "s3",
            endpoint_url=cloud.endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    assert admin is not None
    with pytest.raises(ClientError) as refused:
        sessions["s3-only"].create_multipart_upload(Bucket=target.staging_bucket, Key=key)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:GenerateDataKey" in refused.value.response["Error"]["Message"]
    s3 = sessions["with-key"]
    upload_id = s3.create_multipart_upload(Bucket=target.staging_bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=target.staging_bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    s3.complete_multipart_upload(Bucket=target.staging_bucket, Key=key, UploadId=upload_id, MultipartUpload=parts)
    assert encrypted_with(target, target.staging_bucket, key) == kms
    settle(target, 1)  # the upload's own execution, so that none is left running into the next test


def test_backfill_from_a_manifest_and_reprocess_hold_under_a_kms_key(
    cloud: LocalCloud, target: Target, kms: str
) -> None:
    """The backfill machine decrypts its manifest and both write their Map Run results under
    the key, as their roles are granted."""
    target.s3.put_bucket_notification_configuration(Bucket=target.staging_bucket, NotificationConfiguration={})
    items = [upload(target, f"kms-old/{i}.csv", f"id,v\n{i},x\n".encode()) for i in range(3)]
    cloud.resources.notification()
    run = start_backfill(target, keys=[item.key for item in items])
    assert follow_map_run(target, run)["succeeded"] == 3
    assert {v.status for v in settle(target, 3)} == {"SUCCEEDED"}
    assert_conserved(target, items)
    counts = follow_map_run(target, start_reprocess(target, "csv-to-parquet", current_version="9"))
    assert counts["failed"] == 0 and counts["succeeded"] == 3
    views = settle(target, 6)
    assert len(views) == 6, [(v.name, v.status, v.outcome) for v in views]
    results = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="results/")["Contents"]
    assert all(encrypted_with(target, target.archive_bucket, r["Key"]) == kms for r in results)
