"""The local cloud against a hostile job, hostile requests and a hostile page (issue 25).

Each test reproduces one way in that a probe found; it failed before the fix and passes after.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

import pytest

from filepipe.local import LocalCloud
from filepipe.local.gateway import protocol
from tests.local.helpers import page_elsewhere, raw, signed_request

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


JSON = "application/x-amz-json-1.0"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("service", "path", "headers", "body", "status", "code"),
    [
        ("states", "/", {"X-Amz-Target": "AWSStepFunctions.DescribeExecution"}, b"{}", 400, b"ValidationException"),
        (
            "states",
            "/",
            {"X-Amz-Target": "AWSStepFunctions.StartExecution"},
            b'{"stateMachineArn": ["x"]}',
            400,
            b"SerializationException",
        ),
        (
            "states",
            "/",
            {"X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
            b'{"maxResults": "x"}',
            400,
            b"SerializationException",
        ),
        (
            "states",
            "/",
            {"X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
            b"null",
            400,
            b"SerializationException",
        ),
        ("states", "/", {"X-Amz-Target": "AWSStepFunctions.Nope"}, b"{}", 400, b"UnknownOperationException"),
        ("sqs", "/", {"X-Amz-Target": "AmazonSQS.SendMessage"}, b"\xff{}", 400, b"SerializationException"),
        ("sts", "/", FORM, b"Action=AssumeRole&Version=2011-06-15", 400, b"MissingParameter"),
        ("iam", "/", FORM, b"Action=AssumeRole&Version=2010-05-08", 400, b"InvalidAction"),
        ("sts", "/", FORM, b"Version=2011-06-15", 400, b"MissingAction"),
        ("s3", "/filepipe-staging/k.csv?nothing", {}, b"", 405, b"MethodNotAllowed"),
        ("s3", "/filepipe-staging?max-keys=abc", {}, None, 400, b"InvalidArgument"),
        ("s3", "/filepipe-staging?max-keys=-1", {}, None, 400, b"InvalidArgument"),
        ("s3", "/filepipe-staging/k.csv?partNumber=x", {}, None, 400, b"InvalidArgument"),
        ("s3", "/filepipe-staging/k.csv", {"x-amz-acl": "nope"}, b"x", 400, b"InvalidArgument"),
        ("s3", "/filepipe-staging/k.csv", {"x-amz-copy-source": "no-slash"}, b"", 400, b"InvalidArgument"),
        ("s3", "/filepipe-staging?list-type=2&continuation-token=never-issued", {}, None, 400, b"InvalidArgument"),
        (
            "s3",
            "/filepipe-staging/k.csv?uploadId=never-issued",
            {},
            b"<CompleteMultipartUpload/>",
            404,
            b"NoSuchUpload",
        ),
        (
            "s3",
            "/filepipe-archive/kept.csv?response-content-type=text%2Fhtml%0D%0AX-Injected%3A%201",
            {},
            None,
            400,
            b"InvalidArgument",
        ),
        ("s3", "/filepipe-archive/kept.csv", {"Range": "0"}, None, 200, b"kept"),
        (
            "s3",
            "/filepipe-archive/kept.csv?response-content-disposition=attachment%3B%20filename%3D%22%E2%9C%93.csv%22",
            {},
            None,
            200,
            b"kept",
        ),
        ("lambda", "/2015-03-31/functions/a%2Fb/invocations", {}, b"\xff\xfe", 400, b"SerializationException"),
        (
            "lambda",
            "/2015-03-31/functions/filepipe-transform/invocations",
            {},
            b"\xff\xfe",
            400,
            b"InvalidRequestContentException",
        ),
    ],
    ids=lambda value: value.decode() if isinstance(value, bytes) and value.isascii() and len(value) < 30 else None,
)
def test_a_request_a_service_cannot_read_is_a_4xx_never_a_500(
    cloud: LocalCloud,
    service: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    code: bytes,
) -> None:
    """Signed as the developer, so that it reaches the service: a member of the wrong type, a
    required one missing, an operation the service does not have, a body that is not UTF-8, a
    method or parameter S3 does not take. moto failed on each (a 500)."""
    method = "GET" if body is None else ("PUT" if service == "s3" and "?" not in path else "POST")
    if service not in ("s3", "sts", "iam", "lambda"):
        headers = headers | {"Content-Type": JSON}
    cloud.client("s3").put_object(Bucket=cloud.config.archive_bucket, Key="kept.csv", Body=b"kept")
    sent = signed_request(cloud.endpoint, service, method, path, body or b"", headers)
    got, _, answer = raw(cloud.port, sent)
    assert (got, code in answer) == (status, True), answer


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, x"}, "s3"),
        (
            {
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, x",
                "CONTENT_TYPE": "application/json",
            },
            "s3",
        ),
        ({"QUERY_STRING": "X-Amz-Signature=0", "CONTENT_TYPE": "application/json"}, "s3"),
        ({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.ListStateMachines"}, "json"),
        (
            {
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/sts/aws4_request, x",
                "CONTENT_TYPE": FORM["Content-Type"],
            },
            "query",
        ),
    ],
    ids=["s3", "s3-json-object", "presigned", "json", "query"],
)
def test_an_object_uploaded_as_json_is_still_an_s3_request(environ: dict[str, str], kind: str) -> None:
    """The gateway reads JSON and query bodies to check them against the service's model; an S3
    PUT of a JSON file is streamed to S3 as before, and its errors are S3's."""
    assert protocol(environ) == kind


def test_a_refusal_by_iam_says_it_is_json(cloud: LocalCloud) -> None:
    """moto answered an IAM refusal of a JSON call with a JSON body labelled text/html."""
    session = cloud.identities.session("upload")
    credentials = (session["access_key"], session["secret_key"], session["token"])
    headers = {"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": JSON}
    status, answer_headers, answer = raw(
        cloud.port, signed_request(cloud.endpoint, "states", "POST", "/", b"{}", headers, credentials)
    )
    assert (status, answer_headers["content-type"]) == (403, "application/json"), answer
    assert answer_headers["x-amzn-errortype"] == "AccessDenied"


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


# -- a hostile page -------------------------------------------------------------------------------

PAYLOAD = """<!doctype html><title>report</title><script type="module">
import { AwsClient } from '/ui/aws4fetch.mjs';
const admin = new AwsClient({ accessKeyId: 'test', secretAccessKey: 'test', service: 's3', region: 'us-east-1' });
const put = await admin.fetch(location.origin + '/filepipe-staging/planted.txt', { method: 'PUT', body: 'owned' });
document.title = 'planted ' + put.status;
</script>"""
"""A processed file whose bytes are a page: run at the local cloud's origin, it loads the upload
page's signing module, signs with the well-known key as the administrator, and plants a file."""


def presigned_page(cloud: LocalCloud) -> str:
    """A presigned GET of the payload asking S3 to answer it as HTML, as anyone can sign one
    offline with the well-known key."""
    s3 = cloud.client("s3", signature_version="s3v4")
    bucket = cloud.config.archive_bucket
    s3.put_object(Bucket=bucket, Key="outputs/report.csv", Body=PAYLOAD.encode(), ContentType="text/csv")
    params = {"Bucket": bucket, "Key": "outputs/report.csv", "ResponseContentType": "text/html"}
    return str(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=300))


def planted(cloud: LocalCloud) -> bool:
    """Whether the file arrived: in staging, or already moved on by the pipeline to the archive."""
    s3 = cloud.client("s3")
    listed = [s3.list_objects_v2(Bucket=b) for b in (cloud.config.staging_bucket, cloud.config.archive_bucket)]
    return any("planted.txt" in o["Key"] for listing in listed for o in listing.get("Contents", []))


@pytest.mark.parametrize(
    "attack",
    ['<script>location.href = "{url}";</script>', '<iframe src="{url}"></iframe>'],
    ids=["navigation", "frame"],
)
def test_a_page_elsewhere_cannot_open_an_object_as_a_page_of_the_local_cloud(
    browser: Any, cloud: LocalCloud, attack: str
) -> None:
    """A page of another origin opened a presigned GET of a processed file as HTML: the file's
    script ran at the local cloud's origin and signed as the administrator (an S3 listing, a
    Batch SubmitJob and Cognito calls answered 200). The navigation is now refused."""
    url = presigned_page(cloud)
    statuses: list[int] = []
    page = browser.new_page()
    page.on("response", lambda response: statuses.append(response.status) if "report.csv" in response.url else None)
    with page_elsewhere(attack.format(url=url).encode()) as elsewhere:
        page.goto(elsewhere)
        deadline = time.monotonic() + 10
        while not statuses and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        page.wait_for_timeout(1500)  # time for a script that did run to send its PUT
    page.close()
    assert not planted(cloud), "the object's script signed as the administrator"
    assert statuses == [403], "the object was not served to a navigation from elsewhere"
    assert ("ForbiddenNavigation", "/filepipe-archive/outputs/report.csv") in cloud.refusals


def test_an_object_opened_directly_runs_no_script(browser: Any, cloud: LocalCloud) -> None:
    """The same URL typed or pasted in the address bar is served (S3 would serve it), but as a
    sandboxed page of no origin: its script does not run, and nothing can be planted."""
    url = presigned_page(cloud)
    page = browser.new_page()
    answer = page.goto(url)
    page.wait_for_timeout(1500)
    title = page.title()
    page.close()
    assert title == "report" and not planted(cloud), "the object's script signed as the administrator"
    assert answer is not None and answer.status == 200
    assert answer.headers["content-security-policy"] == "sandbox"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_upload_page_cannot_be_framed(browser: Any, cloud: LocalCloud) -> None:
    """``/ui/`` could be framed by any page (a clickjacking page lays its own buttons over it)."""
    page = browser.new_page()
    with page_elsewhere(f'<iframe src="{cloud.endpoint}/ui/"></iframe>'.encode()) as elsewhere:
        page.goto(elsewhere)
        page.wait_for_timeout(1500)
        framed = [frame.query_selector("#files") for frame in page.frames]
    page.close()
    assert framed[1:] and all(found is None for found in framed), "the upload page did not load in the frame"
    with urllib.request.urlopen(f"{cloud.endpoint}/ui/") as answer:
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"


# -- bodies and time ------------------------------------------------------------------------------


def chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


def framed(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    """A request sent with exactly these headers (no Content-Length unless given)."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_a_chunked_body_cannot_pass_a_presigned_puts_signed_length(cloud: LocalCloud) -> None:
    """``Transfer-Encoding: chunked`` with a ``Content-Length``: the signature and the caps read
    the length, werkzeug read the chunks, and 4,000 bytes were stored under a grant for 10."""
    s3 = cloud.client("s3", signature_version="s3v4")
    bucket = cloud.config.staging_bucket
    params = {"Bucket": bucket, "Key": "ten.csv", "ContentLength": 10}
    url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
    path, host = url.split(str(cloud.port), 1)[1], f"127.0.0.1:{cloud.port}"
    body = chunked(b"a,b\n" * 1000)
    smuggled = {"Content-Length": "10", "Transfer-Encoding": "chunked"}
    status, _, answer = raw(cloud.port, framed("PUT", path, host, smuggled, body))
    assert status == 400 and b"both Transfer-Encoding and Content-Length" in answer, answer
    status, _, answer = raw(cloud.port, framed("PUT", path, host, {"Transfer-Encoding": "chunked"}, body))
    assert status == 403 and b"SignatureDoesNotMatch" in answer, "the signed length holds for a chunked body"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    fits = framed("PUT", path, host, {"Transfer-Encoding": "chunked"}, chunked(b"a,b\n1,2\n34", 3))
    assert raw(cloud.port, fits)[0] == 200, "a chunked body of the signed length is taken"
    assert s3.get_object(Bucket=bucket, Key="ten.csv")["Body"].read() == b"a,b\n1,2\n34"


@pytest.mark.parametrize(
    ("path", "size", "refusal"),
    [
        ("/2015-03-31/functions/filepipe-transform/invocations", 7_000_000, b"RequestEntityTooLargeException"),
        ("/api/uploads", 11 * 1024 * 1024, b"Request Entity Too Large"),
    ],
    ids=["lambda-6-mb", "api-10-mib"],
)
def test_the_size_caps_count_the_bytes_of_a_chunked_body(
    cloud: LocalCloud, path: str, size: int, refusal: bytes
) -> None:
    """The caps read Content-Length alone: a chunked body of any size was passed on (to Lambda
    as an empty payload)."""
    request = framed(
        "POST", path, f"127.0.0.1:{cloud.port}", {"Transfer-Encoding": "chunked"}, chunked(b"x" * size, 65536)
    )
    status, _, answer = raw(cloud.port, request)
    assert status == 413 and refusal in answer, answer


def dribble(cloud: LocalCloud, sent: bytes, dribbled: bytes, every: float, give_up: float) -> tuple[float, bytes]:
    """Send ``sent`` at once, then ``dribbled`` a byte every ``every`` seconds (never idle for
    the server's idle timeout), until the server answers or closes: how long that took from the
    first byte, and the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", cloud.port), timeout=every) as connection:
        connection.sendall(sent)
        for byte in dribbled:
            try:
                connection.sendall(bytes([byte]))
                answer = connection.recv(65536)
            except TimeoutError:
                assert time.monotonic() - started < give_up, "the dribbling request was never cut off"
                continue
            except OSError:  # reset: the server closed the connection
                answer = b""
            return time.monotonic() - started, answer
    raise AssertionError("the whole request was dribbled through")


def test_a_dribbling_client_is_cut_off_after_the_request_budget(cloud: LocalCloud) -> None:
    """One byte every 2 s is never idle for the 5 s idle timeout: such a request's headers, or
    its body, were never cut off. Now its time is up after the request budget (10 s in these
    tests): a connection still sending headers is closed, a body gets S3's RequestTimeout."""
    assert cloud.config.idle_timeout_seconds > 2
    budget, host = cloud.config.request_timeout_seconds, f"127.0.0.1:{cloud.port}"
    endless_headers = f"GET /ui/ HTTP/1.1\r\nHost: {host}\r\nX-Padding: {'p' * 200}".encode()
    headers_then_body = framed("POST", "/api/uploads", host, {"Content-Length": "200"}, b"")
    results: dict[str, tuple[float, bytes]] = {}

    def run(name: str, sent: bytes, dribbled: bytes) -> None:
        results[name] = dribble(cloud, sent, dribbled, 2, budget + 20)

    threads = [
        threading.Thread(target=run, args=("headers", b"", endless_headers)),
        threading.Thread(target=run, args=("body", headers_then_body, b"{" * 200)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {"headers", "body"}, "a dribbling request was never cut off"
    for name, (took, _) in results.items():
        assert budget - 1 < took < budget + 6, f"the {name} were cut off after {took:.1f} s"
    assert results["headers"][1] == b"", "closed while the headers were coming"
    status_line = results["body"][1].split(b"\r\n", 1)[0]
    assert b" 400 " in status_line and b"RequestTimeout" in results["body"][1], results["body"][1]
    # Step Functions' Lambda task reads a refused invocation's request ID; without one the
    # execution crashed under load instead of retrying or failing.
    assert b"x-amzn-requestid: " in results["body"][1].lower(), "a refusal names its request"
