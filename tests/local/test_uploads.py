"""Uploads through the upload API in the local cloud: the HTTP API, the CLI uploader."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.local import LocalCloud
from filepipe.local.config import LOCAL_USER
from filepipe.operations import Target
from filepipe.uploads.client import SignIn, UploadClient
from tests.local.helpers import PRESIGN_MAX, settle

pytestmark = pytest.mark.local


def token(cloud: LocalCloud) -> str:
    """An ID token of the local user, signed in as the page signs in."""
    return SignIn(f"{cloud.endpoint}/api/", *LOCAL_USER).token()


def call(cloud: LocalCloud, method: str, path: str, body: Any = None, bearer: str | None = "") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    bearer = token(cloud) if bearer == "" else bearer
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    request = urllib.request.Request(cloud.endpoint + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_presigned_put_then_status_until_archived(cloud: LocalCloud, target: Target) -> None:
    status, grant = call(
        cloud, "POST", "/api/uploads", {"filename": "q1 + q2.csv", "contentType": "text/csv", "size": 8}
    )
    assert status == 201 and grant["method"] == "PUT"
    put = urllib.request.Request(grant["url"], data=b"a,b\n1,2\n", method="PUT", headers=grant["headers"])
    with urllib.request.urlopen(put) as response:
        assert response.status == 200
    (view,) = settle(target, 1)
    assert view.key == grant["key"]
    _, state = call(cloud, "GET", "/api/uploads/status?key=" + urllib.request.quote(grant["key"]))
    assert state["state"] == "archived"
    assert state["outputs"] == [f"outputs/{grant['key']}/data.parquet"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"filename": "../../x", "contentType": "text/csv", "size": 1}, 400),
        ({"filename": "x\x07.csv", "contentType": "text/csv", "size": 1}, 400),
        ({"filename": "x.sh", "contentType": "application/x-sh", "size": 1}, 415),
        ({"filename": "x.csv", "contentType": "text/csv", "size": 10_000 * 5 * 1024**3 + 1}, 413),
    ],
)
def test_bad_requests_are_refused_with_json(cloud: LocalCloud, target: Target, body: Any, status: int) -> None:
    got, answer = call(cloud, "POST", "/api/uploads", body)
    assert got == status and answer["error"]
    assert not target.s3.list_objects_v2(Bucket=target.staging_bucket).get("Contents")


@pytest.mark.parametrize(
    "body",
    [
        b"{oops",
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe not utf-8",
        b'{"filename": "a\\ud800.csv", "contentType": "text/csv", "size": 1}',
    ],
    ids=["not-json", "nested-past-reason", "not-utf-8", "lone-surrogate"],
)
def test_a_bad_body_is_a_400_never_a_500(cloud: LocalCloud, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {token(cloud)}"}
    request = urllib.request.Request(cloud.endpoint + "/api/uploads", data=body, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400 and json.loads(caught.value.read())["error"]


def test_the_api_answers_only_signed_in_users(cloud: LocalCloud) -> None:
    """As the stack's JWT authorizer does: a token of the pool's app client, or 401."""
    request = {"filename": "a.csv", "contentType": "text/csv", "size": 1}
    assert call(cloud, "POST", "/api/uploads", request, bearer=None)[0] == 401
    good = token(cloud)
    assert call(cloud, "POST", "/api/uploads", request, bearer=good)[0] == 201
    header, payload, signature = good.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["cognito:username"] = "someone-else"
    tampered = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert call(cloud, "POST", "/api/uploads", request, bearer=f"{header}.{tampered}.{signature}")[0] == 401
    assert call(cloud, "GET", "/api/uploads/status?key=uploads/x", bearer="not-a-jwt")[0] == 401
    with urllib.request.urlopen(cloud.endpoint + "/ui/config.json") as answer:
        config = json.loads(answer.read())
    assert config["auth"] == "cognito" and config["clientId"] == cloud.user_pool_client_id


def test_a_presigned_put_of_another_size_is_refused(cloud: LocalCloud, target: Target) -> None:
    _, grant = call(cloud, "POST", "/api/uploads", {"filename": "ten.csv", "contentType": "text/csv", "size": 10})
    longer = urllib.request.Request(grant["url"], data=b"a,b\n" * 1000, method="PUT", headers=grant["headers"])
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(longer)
    assert caught.value.code == 403 and b"SignatureDoesNotMatch" in caught.value.read()
    assert not target.s3.list_objects_v2(Bucket=target.staging_bucket).get("Contents")


def multipart_as_granted(cloud: LocalCloud, grant: dict[str, Any], body: bytes, content_type: str) -> None:
    """Send ``body`` with the grant's credentials, as a client that ignores what it declared."""
    c = grant["credentials"]
    s3 = boto3.client(
        "s3",
        endpoint_url=cloud.endpoint,
        region_name="us-east-1",
        aws_access_key_id=c["accessKeyId"],
        aws_secret_access_key=c["secretAccessKey"],
        aws_session_token=c["sessionToken"],
    )
    key = grant["key"]
    upload = s3.create_multipart_upload(Bucket=grant["bucket"], Key=key, ContentType=content_type)["UploadId"]
    part = s3.upload_part(Bucket=grant["bucket"], Key=key, UploadId=upload, PartNumber=1, Body=body)
    s3.complete_multipart_upload(
        Bucket=grant["bucket"],
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )


@pytest.mark.parametrize(
    ("declared", "sent", "content_type", "reason"),
    [
        (PRESIGN_MAX + 1, PRESIGN_MAX + 4096, "application/octet-stream", "was granted for"),
        (PRESIGN_MAX + 1, PRESIGN_MAX + 1, "text/html", "'text/html', but it was granted for"),
    ],
    ids=["larger", "other-type"],
)
def test_a_multipart_upload_unlike_its_grant_is_refused_by_the_pipeline(
    cloud: LocalCloud, target: Target, declared: int, sent: int, content_type: str, reason: str
) -> None:
    cloud.redefine(LargeFileThresholdBytes=16 * 1024 * 1024)  # the Lambda path: its errors carry their reason
    request = {"filename": "big.bin", "contentType": "application/octet-stream", "size": declared}
    _, grant = call(cloud, "POST", "/api/uploads", request)
    assert grant["method"] == "MULTIPART"
    multipart_as_granted(cloud, grant, os.urandom(sent), content_type)
    (view,) = settle(target, 1)
    assert (view.status, view.error) == ("FAILED", "UploadRefused")
    assert target.s3.head_object(Bucket=target.archive_bucket, Key=f"failed/{grant['key']}")["ContentLength"] == sent
    _, state = call(cloud, "GET", "/api/uploads/status?key=" + urllib.request.quote(grant["key"]))
    assert (state["state"], state["error"]) == ("failed", "UploadRefused")
    assert reason in state["reason"]


def test_credentials_that_ended_are_renewed_and_the_upload_goes_on(
    cloud: LocalCloud, target: Target, tmp_path: Path
) -> None:
    """An upload outlasting its credentials' hour: the session is aged as an hour would, S3
    refuses it, and the client renews through the API and finishes."""
    path = tmp_path / "long.bin"
    path.write_bytes(os.urandom(11 * 1024 * 1024))
    client = UploadClient(f"{cloud.endpoint}/api/", sign_in=SignIn(f"{cloud.endpoint}/api/", *LOCAL_USER))
    grant = client.grant(path)
    assert grant["method"] == "MULTIPART"
    end_session(grant["credentials"]["accessKeyId"])
    renewals: list[str] = []
    renew = client.renew
    client.renew = lambda key: renewals.append(key) or renew(key)  # type: ignore[method-assign]
    client.send(grant, path, lambda n: None)
    assert renewals == [grant["key"]]
    staged = target.s3.get_object(Bucket=target.staging_bucket, Key=grant["key"])["Body"].read()
    assert staged == path.read_bytes()
    (view,) = settle(target, 1)
    assert view.status == "SUCCEEDED"


def end_session(access_key_id: str) -> None:
    """Make a session of the local cloud's STS end now (as if its hour had passed)."""
    from moto.sts.models import sts_backends

    (session,) = [s for s in sts_backends["123456789012"]["aws"].assumed_roles if s.access_key_id == access_key_id]
    session.expiration = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)


def put_small_csv(cloud: LocalCloud, filename: str) -> dict[str, Any]:
    """Ask the API for a presigned PUT and upload a two-line CSV with it; the grant."""
    _, grant = call(cloud, "POST", "/api/uploads", {"filename": filename, "contentType": "text/csv", "size": 8})
    put = urllib.request.Request(grant["url"], data=b"a,b\n1,2\n", method="PUT", headers=grant["headers"])
    urllib.request.urlopen(put).close()
    return dict(grant)


def test_status_finds_a_running_execution_by_name(cloud: LocalCloud, target: Target) -> None:
    def slow_transform(name: str, event: Any) -> None:
        if name == "filepipe-transform":
            time.sleep(3)

    cloud.lambdas.interceptors.append(slow_transform)
    grant = put_small_csv(cloud, "slow.csv")
    deadline = time.monotonic() + 20
    while (state := call(cloud, "GET", "/api/uploads/status?key=" + urllib.request.quote(grant["key"]))[1])[
        "state"
    ] != "processing":
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    (view,) = settle(target, 1)
    assert state["execution"] == view.arn


def test_the_page_is_served(cloud: LocalCloud) -> None:
    with urllib.request.urlopen(cloud.endpoint + "/ui/") as response:
        assert "text/html" in response.headers["Content-Type"]
        assert b'<script type="module" src="upload.js">' in response.read()
    with urllib.request.urlopen(cloud.endpoint + "/ui/aws4fetch.mjs") as response:
        assert b"class AwsClient" in response.read()


def test_cli_uploads_small_and_multipart_files_and_waits(cloud: LocalCloud, target: Target, tmp_path: Path) -> None:
    small = tmp_path / "small file.csv"
    small.write_bytes(b"a,b\n1,2\n")
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(12 * 1024 * 1024))
    assert large.stat().st_size > PRESIGN_MAX
    result = CliRunner().invoke(
        main, ["upload", "--endpoint", cloud.endpoint, "--wait", str(small), str(large)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("archived") == 2
    assert "MULTIPART" in result.output and "PUT" in result.output
    archived = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/uploads/")["Contents"]
    by_name = {o["Key"].rsplit("/", 1)[-1]: o for o in archived}
    assert by_name["large.bin"]["Size"] == large.stat().st_size
    head = target.s3.head_object(Bucket=target.archive_bucket, Key=by_name["large.bin"]["Key"])
    assert head["ContentLength"] == large.stat().st_size
    body = target.s3.get_object(Bucket=target.archive_bucket, Key=by_name["large.bin"]["Key"])["Body"].read()
    assert body == large.read_bytes()


@pytest.mark.parametrize("fitted", [True, False], ids=["parts-fitted", "control-fixed-parts"])
def test_a_multipart_grant_fits_the_file_in_s3s_part_limit(
    cloud: LocalCloud, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fitted: bool
) -> None:
    """S3's 10,000 parts, lowered to 4: a 22 MiB file at the grant's 5 MiB parts needs 5. The
    grant sizes its parts to fit (6 MiB), and the upload is archived; the control grants the
    fixed 5 MiB parts, as before, and S3 refuses part 5 (in AWS: any upload past 48 GiB at 5 MiB,
    or past 156 GiB at 16 MiB)."""
    from filepipe.local import adapter

    monkeypatch.setattr(adapter.quotas, "MAX_PART_NUMBER", 4)
    parts = "4" if fitted else "10000"
    cloud.lambdas.update_environment(cloud.functions["upload_api"].name, {"UPLOAD_MAX_PARTS": parts})
    wide = tmp_path / "wide.bin"
    wide.write_bytes(os.urandom(22 * 1024 * 1024))
    result = CliRunner().invoke(main, ["upload", "--endpoint", cloud.endpoint, "--wait", str(wide)])
    if fitted:
        assert result.exit_code == 0, result.output
        assert "archived" in result.output
        (original,) = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/uploads/")["Contents"]
        assert original["Size"] == wide.stat().st_size
    else:
        assert result.exit_code == 1
        assert "Part number must be an integer between 1 and 4" in result.output


def test_cli_reports_a_failed_file_and_exits_non_zero(cloud: LocalCloud, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2,3\n")
    result = CliRunner().invoke(main, ["upload", "--endpoint", cloud.endpoint, "--wait", str(bad)])
    assert result.exit_code == 1
    assert "failed: TransformRejected" in result.output
    assert "Expected 2 columns, got 3" in result.output, "the reason, in one line"


def test_status_sees_an_express_execution_at_work_by_its_claim(cloud: LocalCloud, target: Target) -> None:
    """An Express execution cannot be described by name; while it works it holds the version's
    claim, and the status reads that (with the upload API's own role)."""
    cloud.use_small_file_workflow("express")

    def slow_archive(name: str, event: Any) -> None:
        if name == "filepipe-archive":
            time.sleep(3)

    cloud.lambdas.interceptors.append(slow_archive)
    grant = put_small_csv(cloud, "quick.csv")
    path = "/api/uploads/status?key=" + urllib.request.quote(grant["key"])
    deadline = time.monotonic() + 20
    while (state := call(cloud, "GET", path)[1])["state"] != "processing":
        assert state["state"] == "waiting" and time.monotonic() < deadline, state
        time.sleep(0.1)
    assert ":express:" in state["execution"], state
    while (state := call(cloud, "GET", path)[1])["state"] == "processing":
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["state"] == "archived"


def second_user(cloud: LocalCloud) -> str:
    """An ID token of another user of the same pool."""
    idp = cloud.client("cognito-idp")
    username, password = "mallory", "Another-user-1"
    with contextlib.suppress(idp.exceptions.UsernameExistsException):
        idp.admin_create_user(UserPoolId=cloud.users.pool_id, Username=username, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=cloud.users.pool_id, Username=username, Password=password, Permanent=True)
    return SignIn(f"{cloud.endpoint}/api/", username, password).token()


def test_status_and_renewal_answer_only_whoever_was_granted_the_upload(cloud: LocalCloud, target: Target) -> None:
    """Any signed-in user read any other's upload status (state, reason, outputs), and renewal
    handed out credentials for an upload already archived: a part sent with them made a new
    version of the archived file."""
    grant = put_small_csv(cloud, "mine.csv")
    request = {"filename": "big.bin", "contentType": "application/octet-stream", "size": PRESIGN_MAX + 1}
    _, multipart = call(cloud, "POST", "/api/uploads", request)
    other = second_user(cloud)
    status_path = "/api/uploads/status?key=" + urllib.request.quote(grant["key"])
    assert call(cloud, "GET", status_path, bearer=other) == (403, {"error": "this upload was not granted to you"})
    assert call(cloud, "POST", "/api/uploads/renew", {"key": multipart["key"]}, bearer=other)[0] == 403
    assert call(cloud, "GET", "/api/uploads/status?key=uploads/2026/01/01/x/none.csv")[0] == 403
    settle(target, 1)
    assert call(cloud, "GET", status_path)[1]["state"] == "archived"
    multipart_as_granted(cloud, multipart, os.urandom(PRESIGN_MAX + 1), "application/octet-stream")
    settle(target, 2)
    assert not target.s3.list_objects_v2(Bucket=target.staging_bucket).get("Contents"), "archived, gone from staging"
    renewed = call(cloud, "POST", "/api/uploads/renew", {"key": multipart["key"]})
    assert renewed == (409, {"error": "the upload is complete; there is nothing left to send"})


@pytest.mark.parametrize("key", ["uploads/a\ud800.csv", "uploads/a\x00.csv", ["uploads/a.csv"], None])
def test_no_key_makes_the_api_fail(cloud: LocalCloud, key: Any) -> None:
    """A lone surrogate in renew's key gave a JSON 500."""
    assert call(cloud, "POST", "/api/uploads/renew", {"key": key})[0] == 400
    if isinstance(key, str):  # in a query the surrogate's bytes are decoded as U+FFFD: a key nobody was granted
        path = "/api/uploads/status?key=" + urllib.request.quote(key, errors="surrogatepass")
        assert call(cloud, "GET", path)[0] in (400, 403)
