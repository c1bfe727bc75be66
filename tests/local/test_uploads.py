"""Uploads through the upload API in the local cloud: the HTTP API, the CLI uploader."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import PRESIGN_MAX, settle

pytestmark = pytest.mark.local


def call(cloud: LocalCloud, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(cloud.endpoint + path, data=data, method=method)
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
        ({"filename": "x.csv", "contentType": "text/csv", "size": 6 * 1024**4}, 413),
    ],
)
def test_bad_requests_are_refused_with_json(cloud: LocalCloud, target: Target, body: Any, status: int) -> None:
    got, answer = call(cloud, "POST", "/api/uploads", body)
    assert got == status and answer["error"]
    assert not target.s3.list_objects_v2(Bucket=target.staging_bucket).get("Contents")


def test_a_body_that_is_not_json(cloud: LocalCloud) -> None:
    request = urllib.request.Request(cloud.endpoint + "/api/uploads", data=b"{oops", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400 and json.loads(caught.value.read()) == {"error": "body must be JSON"}


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


def test_cli_reports_a_failed_file_and_exits_non_zero(cloud: LocalCloud, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2,3\n")
    result = CliRunner().invoke(main, ["upload", "--endpoint", cloud.endpoint, "--wait", str(bad)])
    assert result.exit_code == 1
    assert "failed: TransformRejected" in result.output
