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
