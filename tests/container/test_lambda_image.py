"""Each function of the stack, run as Lambda runs it: the worker image with the entrypoint and
command the stack gives it (awslambdaric and the handler string), fetching its invocations from a
Lambda Runtime API and acting with its own role against the local cloud."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from filepipe.local import LocalCloud
from filepipe.local.api import to_event
from filepipe.local.containers import PODMAN_FLAGS
from filepipe.operations import Target
from tests.conftest import load_event
from tests.container.conftest import IMAGE
from tests.container.runtime_api import RuntimeApi
from tests.local.helpers import notification_for, settle

pytestmark = pytest.mark.container


def entrypoint() -> list[str]:
    pytest.importorskip("aws_cdk")
    from stack.compute import LAMBDA_ENTRYPOINT

    return list(LAMBDA_ENTRYPOINT)


@contextmanager
def function(engine: str, cloud: LocalCloud, role: str) -> Iterator[RuntimeApi]:
    """The function's image running under a Runtime API, with its configuration and a session of
    its role in the environment, as Lambda starts an execution environment."""
    spec = cloud.functions[role]
    api = RuntimeApi(cloud.lambdas.arn(spec.name), spec.timeout_seconds)
    credentials, _ = cloud.identities.environment(role)
    env = (
        cloud.function_environment(role)
        | credentials
        | {
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "_HANDLER": spec.handler,
        }
    )
    (program, *arguments) = entrypoint()
    name = f"filepipe-lambda-{uuid.uuid4().hex[:8]}"
    flags = list(PODMAN_FLAGS) if engine.endswith("podman") else []
    line = [engine, "run", "--rm", "-d", "--name", name, "--network", "host", *flags, "--entrypoint", program]
    for key, value in sorted(env.items()):
        line += ["-e", f"{key}={value}"]
    subprocess.run([*line, IMAGE, *arguments, spec.handler], check=True, capture_output=True)
    try:
        yield api
    finally:
        subprocess.run([engine, "rm", "-f", "-t", "0", name], capture_output=True, check=False)
        api.close()


def test_the_entrypoint_is_an_absolute_path_to_a_file_not_a_symlink(engine: str) -> None:
    (program, *_) = entrypoint()
    assert program.startswith("/")
    flags = list(PODMAN_FLAGS) if engine.endswith("podman") else []
    check = f"test -f {program} && test -x {program} && test ! -L {program}"
    result = subprocess.run(
        [engine, "run", "--rm", *flags, "--entrypoint", "sh", IMAGE, "-c", check], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_function_answers_through_awslambdaric_with_its_own_role(
    engine: str, cloud: LocalCloud, target: Target
) -> None:
    def hold_the_pipeline(name: str, event: Any) -> None:
        if name == cloud.functions["trigger"].name:
            raise RuntimeError("this test invokes the functions itself")

    cloud.lambdas.interceptors.append(hold_the_pipeline)
    body = b"city,population\nLagos,15388000\n"
    put = target.s3.put_object(Bucket=target.staging_bucket, Key="lambda image/cities.csv", Body=body)
    state = {
        "bucket": target.staging_bucket,
        "key": "lambda image/cities.csv",
        "versionId": put["VersionId"],
        "etag": put["ETag"].strip('"'),
        "size": len(body),
        "sequencer": "0000000000000001",
        "eventTime": "2026-11-28T00:00:00.000Z",
    }
    task = {"object": state, "execution": f"{cloud.state_machine_arn.replace('stateMachine', 'execution')}:probe"}

    with function(engine, cloud, "transform") as transform:
        outcome = transform.invoke(task)
        assert outcome.kind == "response", outcome
        assert outcome.body["status"] == "transformed"
        output = outcome.body["output"]
        assert target.s3.head_object(Bucket=target.archive_bucket, Key=output)["ContentLength"] > 0
    with function(engine, cloud, "archive") as archive:
        outcome = archive.invoke(task)
        assert (outcome.kind, outcome.body["status"]) == ("response", "archived"), outcome
        copy = target.s3.get_object(Bucket=target.archive_bucket, Key="originals/lambda image/cities.csv")
        assert copy["Body"].read() == body
    with function(engine, cloud, "failure") as failure:
        outcome = failure.invoke({"execution": "x"})
        assert outcome.kind == "error", outcome
        assert outcome.body["errorType"] == "ValueError" and "object" in outcome.body["errorMessage"]
    with function(engine, cloud, "trigger") as trigger:
        notification = load_event("sqs_batch.json")["Records"][0] | {"body": json.dumps(notification_for(state))}
        outcome = trigger.invoke({"Records": [notification]})
        assert (outcome.kind, outcome.body) == ("response", {"batchItemFailures": []}), outcome
    (started,) = settle(target, 1)
    assert (started.status, started.outcome) == ("SUCCEEDED", "originals/lambda image/cities.csv"), "archived once"
    with function(engine, cloud, "upload_api") as api:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/ui/", "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
        outcome = api.invoke(to_event(environ))
        assert outcome.kind == "response", outcome
        assert outcome.body["statusCode"] == 200 and "<html" in outcome.body["body"].lower()
