"""Generated requests against every service of the local cloud and the upload API (issue 25):
bodies, headers, names and framing that no SDK would send. Whatever comes, the answer is no 500,
it comes (no hang), and nothing is stored outside a grant.

Requests are signed (as an SDK signs) with an upload grant's credentials, which may write one
key and nothing else, so that they reach the services' own parsing; read-only calls also as the
developer. Each test runs a bounded number of examples.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filepipe.local import LocalCloud
from tests.local.helpers import PRESIGN_MAX, raw, signed_request
from tests.local.test_uploads import call, token

pytestmark = pytest.mark.local

FUZZ = settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
ANSWER_SECONDS = 20
"""Every request here is complete as sent: an answer must come well within the idle timeout."""

text = st.text(st.characters(codec="utf-8"), max_size=40)
token_chars = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"{", b"[]", b"\xff\xfe", b"<xml", b"Action=", b"[" * 3000]),
)


@pytest.fixture
def grant(cloud: LocalCloud) -> Iterator[dict[str, Any]]:
    """A multipart grant (credentials that may write its key alone); after the test, nothing
    stored anywhere but under it, and no job left waiting."""
    request = {"filename": "fuzz.bin", "contentType": "application/octet-stream", "size": PRESIGN_MAX + 1}
    status, granted = call(cloud, "POST", "/api/uploads", request)
    assert status == 201 and granted["method"] == "MULTIPART"
    assert cloud.batch is not None
    cloud.batch.capacity = 0  # a job a generated request submits waits RUNNABLE, and runs nothing
    yield granted
    s3 = cloud.client("s3")
    staged = {o["Key"] for o in s3.list_objects_v2(Bucket=cloud.config.staging_bucket).get("Contents", [])}
    assert staged <= {granted["key"]}, f"stored outside the grant: {staged - {granted['key']}}"
    archived = {o["Key"] for o in s3.list_objects_v2(Bucket=cloud.config.archive_bucket).get("Contents", [])}
    assert all(granted["key"] in key for key in archived), f"archived outside the grant: {archived}"
    for job in list(cloud.batch.jobs.values()):
        cloud.batch.terminate(job.job_id, "fuzzed")


def session(grant: dict[str, Any]) -> tuple[str, str, str]:
    c = grant["credentials"]
    return c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]


def answered(cloud: LocalCloud, request: bytes) -> tuple[int, bytes]:
    status, headers, body = raw(cloud.port, request, timeout=ANSWER_SECONDS)
    assert status < 500, (status, body[:300], request[:300])
    if status >= 400 and body:
        assert "html" not in headers.get("content-type", ""), (body[:300], request[:300])
    return status, body


s3_queries = st.lists(
    st.sampled_from(
        [
            "uploads",
            "versions",
            "list-type=2",
            "max-keys=abc",
            "max-keys=-1",
            "partNumber=0",
            "partNumber=x",
            "uploadId=nope",
            "prefix=%FF",
            "delimiter=",
            "versionId=null",
            "response-content-type=text%2Fhtml%0D%0AX-Injected%3A%201",
            "response-content-disposition=inline",
            "response-content-disposition=attachment%3B%20filename%3D%22%E2%9C%93.csv%22",
            "response-cache-control=%00",
            "tagging",
            "acl",
            "location",
            "encoding-type=url",
            "continuation-token=%00",
        ]
    ),
    max_size=3,
).map("&".join)
s3_headers = st.dictionaries(
    st.sampled_from(
        [
            "x-amz-meta-a",
            "x-amz-acl",
            "x-amz-copy-source",
            "x-amz-tagging",
            "x-amz-server-side-encryption",
            "x-amz-checksum-crc32",
            "x-amz-storage-class",
            "Content-Type",
            "Content-MD5",
            "Range",
            "If-Match",
            "If-None-Match",
            "x-amz-copy-source-range",
            "x-amz-object-lock-mode",
        ]
    ),
    header_values,
    max_size=3,
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    own_key=st.booleans(),
    key=text,
    query=s3_queries,
    headers=s3_headers,
    body=bodies,
)
def test_s3_as_a_grant_holder(
    cloud: LocalCloud,
    grant: dict[str, Any],
    method: str,
    own_key: bool,
    key: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    name = grant["key"] if own_key else key
    path = f"/{grant['bucket']}/{quote(name, safe='/')}" + (f"?{query}" if query else "")
    answered(cloud, signed_request(cloud.endpoint, "s3", method, path, body, headers, session(grant)))


@FUZZ
@given(
    bucket=st.sampled_from(["filepipe-staging", "filepipe-archive", "nope", "a" * 70]),
    key=st.one_of(text, st.just("an output")),
    query=s3_queries,
    headers=s3_headers.map(lambda h: {k: v for k, v in h.items() if not k.lower().startswith("x-amz-copy")}),
    head=st.booleans(),
)
def test_s3_reads_as_the_developer(
    cloud: LocalCloud, grant: dict[str, Any], bucket: str, key: str, query: str, headers: dict[str, str], head: bool
) -> None:
    """Reads of anything, an object that exists among them (so that a presigned GET's response
    overrides are applied)."""
    if key == "an output":
        bucket, key = cloud.config.archive_bucket, f"outputs/{grant['key']}/data.csv"
        cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n")
    path = f"/{bucket}/{quote(key, safe='/')}" + (f"?{query}" if query else "")
    answered(cloud, signed_request(cloud.endpoint, "s3", "HEAD" if head else "GET", path, b"", headers))


TARGETS = {
    "states": ["AWSStepFunctions.StartExecution", "AWSStepFunctions.DescribeExecution", "AWSStepFunctions.Nope"],
    "sqs": ["AmazonSQS.SendMessage", "AmazonSQS.ReceiveMessage", "AmazonSQS.GetQueueUrl"],
    "dynamodb": ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.PutItem", "DynamoDB_20120810.Query"],
    "cognito-idp": ["AWSCognitoIdentityProviderService.InitiateAuth", "AWSCognitoIdentityProviderService.GetUser"],
    "logs": ["Logs_20140328.FilterLogEvents"],
    "events": ["AWSEvents.PutEvents"],
}


@FUZZ
@given(
    service_target=st.sampled_from([(s, t) for s, targets in TARGETS.items() for t in targets]),
    body=bodies,
    content_type=st.sampled_from(["application/x-amz-json-1.0", "application/x-amz-json-1.1", "text/plain"]),
    signer=st.sampled_from(["grant", "none", "bare"]),
)
def test_json_services(
    cloud: LocalCloud,
    grant: dict[str, Any],
    service_target: tuple[str, str],
    body: bytes,
    content_type: str,
    signer: str,
) -> None:
    service, target = service_target
    headers = {"X-Amz-Target": target, "Content-Type": content_type}
    if signer == "grant":
        request = signed_request(cloud.endpoint, service, "POST", "/", body, headers, session(grant))
    else:
        extra = {"Authorization": "AWS4-HMAC-SHA256"} if signer == "bare" else {}
        request = plain(cloud, "POST", "/", headers | extra, body)
    answered(cloud, request)


@FUZZ
@given(
    service=st.sampled_from(["sts", "iam", "sqs"]),
    action=st.sampled_from(["AssumeRole", "GetCallerIdentity", "CreateRole", "SendMessage", "Nope", ""]),
    params=st.dictionaries(token_chars, text, max_size=4),
    version=st.sampled_from(["2011-06-15", "2010-05-08", "2012-11-05", "x"]),
)
def test_query_services(
    cloud: LocalCloud, grant: dict[str, Any], service: str, action: str, params: dict[str, str], version: str
) -> None:
    form = "&".join(f"{quote(k)}={quote(v)}" for k, v in {"Action": action, "Version": version, **params}.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answered(cloud, signed_request(cloud.endpoint, service, "POST", "/", form.encode(), headers, session(grant)))


@FUZZ
@given(
    route=st.sampled_from(["submitjob", "describejobs", "terminatejob", "nope"]),
    fields=st.dictionaries(
        st.sampled_from(["jobName", "jobQueue", "jobDefinition", "containerOverrides", "jobs", "jobId", "reason"]),
        json_values,
        max_size=5,
    ),
    environment=st.lists(
        st.fixed_dictionaries({"name": st.one_of(text, json_values), "value": st.one_of(text, json_values)}),
        max_size=3,
    ),
    real=st.booleans(),
)
def test_batch_as_the_developer(
    cloud: LocalCloud,
    grant: dict[str, Any],
    route: str,
    fields: dict[str, Any],
    environment: list[dict[str, Any]],
    real: bool,
) -> None:
    """As the developer, who may submit: every malformed request is a 400, and what is taken
    waits (no capacity) and runs nothing."""
    if real:
        fields |= {"jobQueue": cloud.job_queue_arn, "jobDefinition": cloud.job_definition_arn}
        fields["containerOverrides"] = {"environment": environment}
    body = json.dumps(fields).encode()
    status, _ = answered(cloud, signed_request(cloud.endpoint, "batch", "POST", f"/v1/{route}", body))
    assert cloud.batch is not None and all(job.status == "RUNNABLE" for job in cloud.batch.jobs.values())
    assert status in (200, 400, 403, 404), status


@FUZZ
@given(
    name=st.one_of(text, st.sampled_from(["filepipe-transform", "filepipe-archive", "filepipe-failure"])),
    body=bodies,
    signer=st.sampled_from(["grant", "developer-unknown", "none"]),
)
def test_lambda_invoke(cloud: LocalCloud, grant: dict[str, Any], name: str, body: bytes, signer: str) -> None:
    """Invocations by the grant holder (who may invoke nothing), unsigned ones, and the
    developer's of functions that do not exist: the route's own parsing, never a function's code."""
    credentials: tuple[str, ...]
    if signer == "developer-unknown":
        name, credentials = f"no-such-{name}", ("test", "test")
    else:
        credentials = session(grant)
    path = f"/2015-03-31/functions/{quote(name or 'x', safe='')}/invocations"
    before = cloud.lambdas.invocations.get(name, 0)
    if signer == "none":
        answered(cloud, plain(cloud, "POST", path, {}, body))
    else:
        answered(cloud, signed_request(cloud.endpoint, "lambda", "POST", path, body, {}, credentials))
    assert cloud.lambdas.invocations.get(name, 0) == before, f"{name} ran"


@FUZZ
@given(
    route=st.sampled_from(["POST /api/uploads", "POST /api/uploads/renew", "GET /api/uploads/status", "GET /ui/x"]),
    body=bodies,
    key=text,
    authorization=st.sampled_from(["token", "none", "Bearer x.y.z", "Basic x", "Bearer "]),
)
def test_upload_api(
    cloud: LocalCloud, grant: dict[str, Any], route: str, body: bytes, key: str, authorization: str
) -> None:
    method, path = route.split(" ")
    if method == "GET":
        path += f"?key={quote(key)}"
        body = b""
    headers = {"Content-Type": "application/json"}
    if authorization == "token":
        headers["Authorization"] = f"Bearer {token(cloud)}"
    elif authorization != "none":
        headers["Authorization"] = authorization
    answered(cloud, plain(cloud, method, path, headers, body))


@FUZZ
@given(
    path=st.sampled_from(["/filepipe-staging/k", "/api/uploads", "/v1/submitjob", "/", "/ui/"]),
    framing=st.sampled_from(
        [
            {"Content-Length": "abc"},
            {"Content-Length": "-1"},
            {"Content-Length": "1e3"},
            {"Content-Length": "6442450944"},
            {"Transfer-Encoding": "chunked", "Content-Length": "5"},
            {"Transfer-Encoding": "gzip"},
            {"Transfer-Encoding": "chunked"},
        ]
    ),
    headers=st.dictionaries(
        st.sampled_from(["Origin", "Sec-Fetch-Mode", "Sec-Fetch-Site", "X-Amz-Target", "Authorization", "Expect"]),
        header_values,
        max_size=3,
    ),
    body=st.binary(max_size=100),
)
def test_framing_and_front_door_headers(
    cloud: LocalCloud, grant: dict[str, Any], path: str, framing: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    """Lengths that are not numbers, the pair that smuggles, codings nobody supports, chunked
    bodies that are not chunks: each a 4xx (or taken, when well formed)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{cloud.port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (framing | headers).items()]
    answered(cloud, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def plain(cloud: LocalCloud, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{cloud.port}", "Connection: close"]
    lines += [f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
