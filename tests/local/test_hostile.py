"""The local cloud against a hostile job, hostile requests and a hostile page (issue 25).

Each test reproduces one way in that a probe found; it failed before the fix and passes after.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from filepipe.local import LocalCloud
from tests.local.helpers import raw, signed_request

pytestmark = pytest.mark.local


def batch_call(cloud: LocalCloud, operation: str, request: Any) -> tuple[int, dict[str, Any]]:
    """A Batch API call signed as the developer, with any body (boto3 would refuse to send some)."""
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    sent = signed_request(
        cloud.endpoint, "batch", "POST", f"/v1/{operation}", body, {"Content-Type": "application/json"}
    )
    status, _, answer = raw(cloud.port, sent)
    return status, json.loads(answer)


def submit(cloud: LocalCloud, **fields: Any) -> dict[str, Any]:
    return {"jobName": "probe", "jobQueue": cloud.job_queue_arn, "jobDefinition": cloud.job_definition_arn} | fields


# -- a hostile job: its environment ---------------------------------------------------------------

PROTECTED = [
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "AWS_DEFAULT_REGION",
    "PATH",
    "HOME",
    "GCONV_PATH",
    "LD_PRELOAD",
    "PYTHONSTARTUP",
    "SSL_CERT_FILE",
    "FILEPIPE_LAMBDA_PRELOAD",
    "AWS_BATCH_JOB_ID",
    "SOMETHING_ELSE",
]


@pytest.mark.parametrize("name", PROTECTED)
def test_a_job_may_not_change_how_code_loads_or_where_credentials_are_found(cloud: LocalCloud, name: str) -> None:
    """``AWS_CONFIG_FILE`` pointing at an object's bytes, with a ``credential_process``, ran a
    command on the host: only the job definition's own names and ``FILEPIPE_*`` are taken, and
    none of those that load code or find credentials, endpoints or certificates (the definition
    names ``AWS_ENDPOINT_URL``)."""
    overrides = {"environment": [{"name": name, "value": "/proc/self/fd/3"}]}
    status, answer = batch_call(cloud, "submitjob", submit(cloud, containerOverrides=overrides))
    assert (status, answer["__type"]) == (400, "ClientException"), answer
    assert cloud.batch is not None and cloud.batch.jobs == {}


def test_the_workflows_and_the_definitions_variables_may_be_set(cloud: LocalCloud) -> None:
    assert cloud.batch is not None
    cloud.batch.capacity = 0  # the job waits, RUNNABLE: only its description matters here
    overrides = {
        "environment": [
            {"name": "FILEPIPE_OBJECT", "value": "{}"},
            {"name": "FILEPIPE_EXECUTION", "value": "arn"},
            {"name": "POWERTOOLS_LOG_LEVEL", "value": "DEBUG"},
        ]
    }
    status, answer = batch_call(cloud, "submitjob", submit(cloud, containerOverrides=overrides))
    assert status == 200, answer
    status, described = batch_call(cloud, "describejobs", {"jobs": [answer["jobId"]]})
    environment = {e["name"]: e["value"] for e in described["jobs"][0]["container"]["environment"]}
    assert environment["FILEPIPE_OBJECT"] == "{}" and environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert batch_call(cloud, "terminatejob", {"jobId": answer["jobId"], "reason": "done"})[0] == 200


@pytest.mark.parametrize(
    ("operation", "request_body"),
    [
        ("submitjob", b"[]"),
        ("submitjob", b"[" * 5000 + b"]" * 5000),
        ("submitjob", b"\xff\xfe"),
        ("submitjob", {"containerOverrides": {"environment": {"FILEPIPE_OBJECT": "{}"}}}),
        ("submitjob", {"containerOverrides": {"environment": "FILEPIPE_OBJECT={}"}}),
        ("submitjob", {"containerOverrides": {"environment": ["FILEPIPE_OBJECT"]}}),
        ("submitjob", {"containerOverrides": {"environment": [{"name": "FILEPIPE_A=B", "value": "1"}]}}),
        ("submitjob", {"containerOverrides": {"environment": [{"name": "FILEPIPE_A\u0000", "value": "1"}]}}),
        ("submitjob", {"containerOverrides": {"environment": [{"name": "FILEPIPE_A", "value": "1\u0000"}]}}),
        ("submitjob", {"containerOverrides": {"environment": [{"name": "FILEPIPE_A", "value": 1}]}}),
        ("submitjob", {"containerOverrides": {"environment": [{"name": "", "value": "1"}]}}),
        ("submitjob", {"containerOverrides": []}),
        ("submitjob", {"containerOverrides": {"resourceRequirements": ["VCPU"]}}),
        ("submitjob", {"jobName": "a\u0000b"}),
        ("submitjob", {"jobName": ["x"]}),
        ("submitjob", {"jobName": "-x"}),
        ("describejobs", {"jobs": "abc"}),
        ("describejobs", {"jobs": [["abc"]]}),
        ("describejobs", []),
        ("terminatejob", {"jobId": ["x"], "reason": "r"}),
        ("terminatejob", {"jobId": "x"}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_malformed_batch_request_is_a_client_exception_and_runs_nothing(
    cloud: LocalCloud, operation: str, request_body: Any
) -> None:
    """A JSON array, an environment that is not a list, a name with ``=`` or NUL (which left the
    job RUNNING for ever): each a 400 ClientException, as AWS Batch answers, never a 500."""
    if isinstance(request_body, dict) and operation == "submitjob":
        request_body = submit(cloud) | request_body
    status, answer = batch_call(cloud, operation, request_body)
    assert (status, answer["__type"]) == (400, "ClientException"), answer
    assert cloud.batch is not None and cloud.batch.jobs == {}


def test_a_job_that_cannot_start_fails_and_is_never_left_running(cloud: LocalCloud) -> None:
    """What a runner cannot start (here a command no process can take) ends the job FAILED."""
    assert cloud.batch is not None
    answer = cloud.batch.submit(submit(cloud), command=["python", "-c", "pass\0"])
    job = cloud.batch.jobs[answer["jobId"]]
    deadline = time.monotonic() + 30
    while job.status not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, f"the job is still {job.status}"
        time.sleep(0.1)
    assert job.status == "FAILED" and job.status_reason.startswith("CannotStartContainerError")


# -- malformed requests ---------------------------------------------------------------------------


def plain(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


SFN = {"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"}
STS = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("authorization", ["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=", "Bearer x", "x"])
@pytest.mark.parametrize(
    ("path", "headers", "body", "expected"),
    [
        ("/filepipe-staging?list-type=2", {}, b"", (b"<Error><Code>", "application/xml")),
        ("/", SFN, b"{}", (b'"__type"', "application/json")),
        ("/", STS, b"Action=GetCallerIdentity&Version=2011-06-15", (b"<ErrorResponse>", "application/xml")),
        ("/v1/submitjob", {"Content-Type": "application/json"}, b"{}", (b'"__type"', "application/json")),
        ("/2015-03-31/functions/filepipe-transform/invocations", {}, b"{}", (b'"__type"', "application/json")),
    ],
    ids=["s3", "json", "query", "batch", "lambda"],
)
def test_an_authorization_header_nobody_can_read_is_a_4xx_in_the_services_format(
    cloud: LocalCloud, authorization: str, path: str, headers: dict[str, str], body: bytes, expected: tuple[bytes, str]
) -> None:
    """``Authorization: AWS4-HMAC-SHA256`` with nothing after it gave a 500 HTML page (moto's
    server reads the header to route the request)."""
    host = f"127.0.0.1:{cloud.port}"
    status, answer_headers, answer = raw(
        cloud.port, plain("POST", path, host, headers | {"Authorization": authorization}, body)
    )
    marker, content_type = expected
    assert 400 <= status < 500 and answer_headers["content-type"] == content_type, (status, answer)
    assert marker in answer


def test_a_presigned_put_carrying_unsigned_amz_headers_is_refused(cloud: LocalCloud) -> None:
    """S3 refuses ``x-amz-*`` headers its signature does not cover ("There were headers present in
    the request which were not signed"); the local cloud stored a presigned PUT's extra metadata."""
    s3 = cloud.client("s3", signature_version="s3v4")
    bucket = cloud.config.staging_bucket
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "note.txt"}, ExpiresIn=300)
    path = url.split(str(cloud.port), 1)[1]
    host = f"127.0.0.1:{cloud.port}"
    for extra in ({"x-amz-meta-owner": "mallory"}, {"x-amz-acl": "public-read"}, {"X-Amz-Tagging": "a=b"}):
        status, _, answer = raw(cloud.port, plain("PUT", path, host, extra, b"hello"))
        assert status == 403 and b"which were not signed" in answer, answer
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    sent = signed_request(cloud.endpoint, "s3", "PUT", f"/{bucket}/note.txt", b"hello")
    unsigned = sent.replace(b"\r\n\r\n", b"\r\nx-amz-meta-owner: mallory\r\n\r\n", 1)
    status, _, answer = raw(cloud.port, unsigned)
    assert status == 403 and b"which were not signed" in answer, answer
    assert raw(cloud.port, plain("PUT", path, host, {}, b"hello"))[0] == 200
    assert s3.head_object(Bucket=bucket, Key="note.txt")["Metadata"] == {}
