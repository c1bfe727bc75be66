"""Upload grants: validation, keys, the exact session policy and presign parameters."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st

from filepipe.uploads import (
    UploadConfig,
    UploadRejected,
    UploadRequest,
    UploadService,
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


def test_small_files_get_a_presigned_put_bound_to_the_content_type(service: UploadService) -> None:
    grant = service.create(request(size=1000))
    assert grant["method"] == "PUT"
    assert grant["key"].startswith("uploads/") and grant["key"].endswith("/data.csv")
    url = urlsplit(grant["url"])
    query = parse_qs(url.query)
    assert url.path.endswith("/" + grant["key"])
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]
    assert grant["headers"] == {"Content-Type": "text/csv"}


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
    ("body", "status", "message"),
    [
        ({"filename": "a.csv", "contentType": "text/csv", "size": 10_001}, 413, "limit"),
        ({"filename": "a.exe", "contentType": "application/x-msdownload", "size": 1}, 415, "not accepted"),
        ({"filename": "../a.csv", "contentType": "text/csv", "size": 1}, 400, "not a path"),
        ({"filename": "", "contentType": "text/csv", "size": 1}, 400, "non-empty"),
        ({"filename": "a.csv", "contentType": "text/csv", "size": -1}, 400, "non-negative"),
        ({"filename": "a.csv", "contentType": "text/csv", "size": "10"}, 400, "non-negative"),
        ({"filename": "a.csv", "contentType": "csv", "size": 1}, 400, "MIME"),
        (["not", "an", "object"], 400, "JSON object"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_nothing_is_issued(
    service: UploadService, body: Any, status: int, message: str
) -> None:
    with pytest.raises(UploadRejected, match=message) as caught:
        service.create(UploadRequest.parse(body))
    assert caught.value.status == status


def test_wildcard_content_types(service: UploadService) -> None:
    assert service.create(request(filename="p.png", content_type="image/png"))["method"] == "PUT"


def test_status_follows_a_file(service: UploadService, s3: Any) -> None:
    key = "uploads/2026/11/26/x/a.csv"
    assert service.status(key)["state"] == "unknown"
    s3.put_object(Bucket="staging", Key=key, Body=b"a")
    assert service.status(key)["state"] == "waiting"
    s3.put_object(
        Bucket="archive", Key=f"errors/{key}.json", Body=json.dumps({"error": "TransformRejected", "attempts": 1})
    )
    assert service.status(key) | {"cause": None} == {
        "key": key,
        "state": "failed",
        "error": "TransformRejected",
        "cause": None,
        "attempts": 1,
        "location": f"failed/{key}",
    }
    s3.put_object(Bucket="archive", Key=f"originals/{key}", Body=b"a")
    s3.put_object(Bucket="archive", Key=f"outputs/{key}/data.parquet", Body=b"p")
    assert service.status(key) == {
        "key": key,
        "state": "archived",
        "location": f"originals/{key}",
        "outputs": [f"outputs/{key}/data.parquet"],
    }
    with pytest.raises(UploadRejected):
        service.status("elsewhere/a.csv")
