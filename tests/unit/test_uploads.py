"""Upload grants: validation, keys, the exact session policy and presign parameters."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st

from filepipe.events import ObjectRef
from filepipe.moves import FailureRecord
from filepipe.partitions import partition_of, s3_object_url
from filepipe.storage import GiB, MiB
from filepipe.uploads import (
    UploadConfig,
    UploadRejected,
    UploadRequest,
    UploadService,
    presigning_config,
    sanitize_filename,
    session_policy,
)
from filepipe.uploads._keys import InvalidFilename, upload_key
from tests.conftest import REGION

ROLE = "arn:aws:iam::123456789012:role/filepipe-upload"


@pytest.fixture
def service(settings: Any, s3: Any) -> UploadService:
    sts = boto3.client("sts", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
    config = UploadConfig(
        bucket="staging", role_arn=ROLE, presign_max_bytes=1000, max_bytes=10_000, archive_bucket="archive"
    )
    return UploadService(s3, sts, config)


def request(filename: object = "data.csv", content_type: str = "text/csv", size: int = 10) -> UploadRequest:
    return UploadRequest.parse({"filename": filename, "contentType": content_type, "size": size})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.csv", "report.csv"),
        ("Q3 résumé + notes ✓.txt", "Q3 résumé + notes ✓.txt"),
        ("a#b%c?.csv", "a_b_c_.csv"),
        ("  spaced.csv  ", "spaced.csv"),
        ("e\u0301.txt", "é.txt"),
    ],
)
def test_file_names_are_kept_readable(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize(
    "name", ["", "   ", "..", "../etc/passwd", "a/b.csv", "a\\b.csv", "bad\x00name", "tab\tname", None, 42]
)
def test_unusable_file_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidFilename):
        sanitize_filename(name)


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = sanitize_filename("é" * 300 + ".csv")
    assert name.endswith(".csv") and len(name.encode()) <= 255


@given(st.text(min_size=1, max_size=300))
def test_any_accepted_name_is_one_safe_key_segment(name: str) -> None:
    try:
        clean = sanitize_filename(name)
    except InvalidFilename:
        return
    assert "/" not in clean and "\\" not in clean and clean not in (".", "..")
    assert 0 < len(clean.encode()) <= 255


def test_keys_are_unique_and_dated() -> None:
    key = upload_key("a.csv", now=datetime(2026, 11, 26), upload_id="abc")
    assert key == "uploads/2026/11/26/abc/a.csv"
    assert upload_key("a.csv") != upload_key("a.csv")


def test_small_files_get_a_presigned_put_bound_to_the_content_type_and_size(service: UploadService) -> None:
    grant = service.create(request(size=1000))
    assert grant["method"] == "PUT"
    assert grant["key"].startswith("uploads/") and grant["key"].endswith("/data.csv")
    url = urlsplit(grant["url"])
    query = parse_qs(url.query)
    assert url.path.endswith("/" + grant["key"])
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"], "S3 refuses another size"
    assert grant["headers"] == {"Content-Type": "text/csv"}
    assert (grant["size"], grant["contentType"]) == (1000, "text/csv")


def test_large_files_get_credentials_for_exactly_one_key(
    service: UploadService, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    original = service._sts.assume_role
    monkeypatch.setattr(service._sts, "assume_role", lambda **kw: calls.append(kw) or original(**kw))
    grant = service.create(request(size=1001))
    assert grant["method"] == "MULTIPART"
    assert set(grant["credentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}
    (call,) = calls
    assert call["RoleArn"] == ROLE
    assert call["DurationSeconds"] == 3600, "an hour: the most a role session may chain"
    assert json.loads(call["Policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UploadThisKeyOnly",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": f"arn:aws:s3:::staging/{grant['key']}",
            }
        ],
    }
    assert grant["objectUrl"] == f"https://staging.s3.us-east-1.amazonaws.com/{grant['key']}"
    assert grant["partSize"] >= 5 * 1024 * 1024


def test_session_policy_has_no_wildcard() -> None:
    policy = session_policy("b", "uploads/x/y z.csv")
    assert "*" not in json.dumps(policy)


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("us-east-1", "arn:aws:s3:::b/uploads/k"),
        ("eu-west-2", "arn:aws:s3:::b/uploads/k"),
        ("cn-north-1", "arn:aws-cn:s3:::b/uploads/k"),
        ("us-gov-west-1", "arn:aws-us-gov:s3:::b/uploads/k"),
    ],
)
def test_session_policy_names_the_key_in_its_regions_partition(region: str, arn: str) -> None:
    """IAM matches a resource ARN literally: ``arn:aws:`` in China would allow nothing."""
    (statement,) = session_policy("b", "uploads/k", region=region)["Statement"]
    assert statement["Resource"] == arn


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "staging.s3.us-east-1.amazonaws.com"),
        ("eu-west-2", "staging.s3.eu-west-2.amazonaws.com"),
        ("ap-east-1", "staging.s3.ap-east-1.amazonaws.com"),
        ("cn-north-1", "staging.s3.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "staging.s3.us-gov-west-1.amazonaws.com"),
    ],
)
def test_presigned_puts_and_part_urls_use_the_buckets_regional_host(region: str, host: str) -> None:
    """Never the global host: outside us-east-1 a new bucket answers it with a 307 for up to a day
    (a browser's CORS preflight does not follow it), and opt-in regions answer 400."""
    s3 = boto3.client(
        "s3", region_name=region, config=presigning_config(), aws_access_key_id="a", aws_secret_access_key="b"
    )
    url = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": "staging", "Key": "uploads/a b.csv"}))
    assert (url.scheme, url.netloc, url.path) == ("https", host, "/uploads/a%20b.csv")
    assert parse_qs(url.query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert s3_object_url("staging", region, "uploads/a b.csv") == f"https://{host}/uploads/a%20b.csv"


def test_a_dotted_bucket_stays_on_the_regional_host_path_style() -> None:
    """``a.b.s3.<region>.amazonaws.com`` would not match S3's wildcard certificate."""
    assert s3_object_url("team.uploads", "eu-west-2", "k") == "https://s3.eu-west-2.amazonaws.com/team.uploads/k"


def test_a_custom_endpoint_keeps_path_style_urls() -> None:
    s3 = boto3.client(
        "s3",
        region_name="eu-west-2",
        endpoint_url="http://127.0.0.1:4566",
        config=presigning_config("http://127.0.0.1:4566"),
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "staging", "Key": "k"})
    assert url.startswith("http://127.0.0.1:4566/staging/k?")


def test_partitions_come_from_botocores_table() -> None:
    assert (partition_of("cn-northwest-1").name, partition_of("cn-northwest-1").dns_suffix) == (
        "aws-cn",
        "amazonaws.com.cn",
    )
    assert partition_of("us-gov-east-1").name == "aws-us-gov"
    assert partition_of("eu-south-2").name == "aws"


def test_a_large_upload_gets_parts_that_fit_s3s_ten_thousand(service: UploadService) -> None:
    """16 MiB parts stop at 160 GiB; a 5 TiB upload (the default limit) needs 1 GiB ones."""
    big = UploadService(service._s3, service._sts, replace(service.config, max_bytes=5 * 1024 * GiB))
    for size in (1001, 200 * GiB, 5 * 1024 * GiB):
        part = big.create(request(size=size))["partSize"]
        assert part >= 16 * MiB and -(-size // part) <= 10_000, size


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"filename": "a.csv", "contentType": "text/csv", "size": 10_001}, 413, "limit"),
        ({"filename": "a.exe", "contentType": "application/x-msdownload", "size": 1}, 415, "not accepted"),
        ({"filename": "../a.csv", "contentType": "text/csv", "size": 1}, 400, "not a path"),
        ({"filename": "", "contentType": "text/csv", "size": 1}, 400, "non-empty"),
        ({"filename": "a.csv", "contentType": "text/csv", "size": -1}, 400, "non-negative"),
        ({"filename": "a.csv", "contentType": "text/csv", "size": "10"}, 400, "non-negative"),
        ({"filename": "a.csv", "contentType": "csv", "size": 1}, 400, "MIME"),
        ({"filename": "a.csv", "contentType": "image/../../text/html", "size": 1}, 400, "MIME"),
        ({"filename": "a.csv", "contentType": ["text/csv"], "size": 1}, 400, "MIME"),
        ({"filename": "a\ud800.csv", "contentType": "text/csv", "size": 1}, 400, "Unicode"),
        (["not", "an", "object"], 400, "JSON object"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_nothing_is_issued(
    service: UploadService, body: Any, status: int, message: str
) -> None:
    with pytest.raises(UploadRejected, match=message) as caught:
        service.create(UploadRequest.parse(body))
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("sent", "granted"),
    [
        ("image/png", "image/png"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("Text/CSV", "text/csv"),
        ("application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("image/x; a=text/html", "image/x"),
    ],
)
def test_content_types_are_media_types(service: UploadService, sent: str, granted: str) -> None:
    """Parameters are set aside for matching, and the grant is for the media type alone: what
    Windows reports for a .csv is accepted, and a parameter cannot smuggle in another type."""
    grant = service.create(request(filename="f.csv", content_type=sent))
    assert grant["contentType"] == granted and grant["headers"] == {"Content-Type": granted}


def test_each_grant_is_recorded_for_the_pipeline(service: UploadService, s3: Any) -> None:
    grant = service.create(request(size=10), owner="jwt:issuer#alice")
    record = json.loads(s3.get_object(Bucket="archive", Key=f"grants/{grant['key']}.json")["Body"].read())
    assert {k: record[k] for k in ("key", "size", "contentType", "method", "owner")} == {
        "key": grant["key"],
        "size": 10,
        "contentType": "text/csv",
        "method": "PUT",
        "owner": "jwt:issuer#alice",
    }


def test_multipart_credentials_are_renewed_for_their_owner_until_the_upload_is_done(
    service: UploadService, s3: Any
) -> None:
    grant = service.create(request(size=5000), owner="alice")
    renewed = service.renew(grant["key"], owner="alice")
    assert renewed["key"] == grant["key"] and renewed["credentials"]["accessKeyId"]
    assert renewed["credentials"]["accessKeyId"] != grant["credentials"]["accessKeyId"]
    for key, owner, status in (
        (grant["key"], "mallory", 403),
        ("uploads/2026/11/26/none/a.csv", "alice", 403),
        ("elsewhere/a.csv", "alice", 400),
        (["a"], "alice", 400),
        ("uploads/2026/11/26/a\ud800.csv", "alice", 400),
        ("uploads/2026/11/26/a\x00.csv", "alice", 400),
        ("uploads/" + "a" * 1020, "alice", 400),
    ):
        with pytest.raises(UploadRejected) as refused:
            service.renew(key, owner=owner)
        assert refused.value.status == status
    small = service.create(request(size=10), owner="alice")
    with pytest.raises(UploadRejected, match="multipart"):
        service.renew(small["key"], owner="alice")
    with pytest.raises(UploadRejected) as lapsed:
        service.renew(grant["key"], owner="alice", now=datetime.now(UTC) + timedelta(hours=73))
    assert lapsed.value.status == 410
    s3.put_object(Bucket="staging", Key=grant["key"], Body=b"done")
    with pytest.raises(UploadRejected) as complete:
        service.renew(grant["key"], owner="alice")
    assert complete.value.status == 409


@pytest.mark.parametrize("where", ["originals/{key}", "errors/{key}.json"], ids=["archived", "failed"])
def test_an_upload_the_pipeline_moved_on_is_not_renewed(service: UploadService, s3: Any, where: str) -> None:
    """Once archived (or failed) the object is gone from staging; new credentials for its key
    would make a new version of it."""
    grant = service.create(request(size=5000), owner="alice")
    s3.put_object(Bucket="archive", Key=where.format(key=grant["key"]), Body=b"{}")
    with pytest.raises(UploadRejected) as complete:
        service.renew(grant["key"], owner="alice")
    assert complete.value.status == 409


def test_status_answers_only_whoever_was_granted_the_upload(service: UploadService, s3: Any) -> None:
    key = service.create(request(size=10), owner="alice")["key"]
    s3.put_object(Bucket="staging", Key=key, Body=b"a")
    assert service.status(key, owner="alice")["state"] == "waiting"
    for owner, asked in (("mallory", key), ("", key), ("alice", "uploads/2026/11/26/none/a.csv")):
        with pytest.raises(UploadRejected) as refused:
            service.status(asked, owner=owner)
        assert refused.value.status == 403


def test_status_follows_a_file_and_says_why_in_one_line(service: UploadService, s3: Any) -> None:
    key = service.create(request(filename="a.csv"), owner="alice")["key"]
    status = functools.partial(service.status, owner="alice")
    assert status(key)["state"] == "unknown"
    s3.put_object(Bucket="staging", Key=key, Body=b"a")
    assert status(key)["state"] == "waiting"
    cause = {
        "errorMessage": f"{key} is not a CSV this transform can read: "
        "CSV parse error: Expected 2 columns, got 3: 7,secret,9",
        "errorType": "TransformRejected",
        "stackTrace": ['  File "/var/task/filepipe/processing.py", line 40'],
    }
    record = FailureRecord(ObjectRef("staging", key), "TransformRejected", cause, 1, f"failed/{key}", "2026-12-04")
    s3.put_object(Bucket="archive", Key=f"errors/{key}.json", Body=record.encode())
    assert status(key) == {
        "key": key,
        "state": "failed",
        "error": "TransformRejected",
        "reason": "the file is not a CSV this transform can read: CSV parse error: Expected 2 columns, got 3",
        "attempts": 1,
    }
    s3.put_object(Bucket="archive", Key=f"originals/{key}", Body=b"a")
    s3.put_object(Bucket="archive", Key=f"outputs/{key}/data.parquet", Body=b"p")
    assert status(key) == {
        "key": key,
        "state": "archived",
        "location": f"originals/{key}",
        "outputs": [f"outputs/{key}/data.parquet"],
    }
    with pytest.raises(UploadRejected):
        status("elsewhere/a.csv")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"error": "DeploymentError", "cause": {"errorMessage": "role arn:aws:iam::1:role/x may not"}}, "deployment"),
        ({"error": "States.TaskFailed", "cause": {"JobArn": "arn:aws:batch:job/1"}}, "processing failed"),
        (
            {"error": "TransformRejected", "cause": {"errorMessage": "invalid value 'Jane Doe, 4111'"}},
            "invalid value …",
        ),
        ({"error": "Weird", "cause": "Traceback (most recent call last): /opt/venv/x.py"}, "processing failed (Weird)"),
    ],
)
def test_reasons_carry_no_paths_roles_or_data(record: dict[str, Any], reason: str) -> None:
    from filepipe.uploads._reasons import public_reason

    said = public_reason(FailureRecord.from_json({"bucket": "staging", "key": "uploads/x/a.csv", **record}))
    assert reason in said and "arn:" not in said and "/opt/" not in said and "Jane" not in said
