"""Every CLI error is one line saying what to do, never a traceback (issue 28)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from filepipe.cli import main
from filepipe.cli._app import explain


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object, **env: str) -> tuple[int, str]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["status", "ls", "why x.csv", "redrive", "backfill --no-wait"])
def test_a_stack_without_credentials_is_one_line(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    code, output = run([*command.split(), "--stack", "Filepipe"], monkeypatch, tmp_path, AWS_DEFAULT_REGION="eu-west-1")
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: no AWS credentials: sign in (`aws configure`, `aws sso login`, or AWS_PROFILE) to use --stack; "
        "the local cloud needs none"
    ]


def test_a_stack_without_a_region_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    code, output = run(["status", "--stack", "Filepipe"], monkeypatch, tmp_path)
    assert (code, output.strip()) == (1, "Error: no AWS region: give --region, or set AWS_REGION")


def test_nothing_answering_is_one_line_naming_the_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    code, output = run(["ls", "--endpoint", "http://127.0.0.1:9"], monkeypatch, tmp_path)
    assert (code, output.strip()) == (1, "Error: nothing answers at http://127.0.0.1:9: is `filepipe up` running?")


@pytest.mark.parametrize(
    ("operation", "code", "message", "said"),
    [
        (
            "DescribeStacks",
            "ValidationError",
            "Stack with id Filepipe does not exist",
            "Stack with id Filepipe does not exist: check --stack and --region (or AWS_REGION)",
        ),
        (
            "ListExecutions",
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/a is not authorized",
            "ListExecutions was refused (AccessDeniedException): your credentials need that permission on the "
            "stack's resources",
        ),
        (
            "ListObjectsV2",
            "ExpiredToken",
            "The provided token has expired.",
            "your AWS credentials have expired: sign in again",
        ),
    ],
)
def test_aws_refusals_say_what_to_do(operation: str, code: str, message: str, said: str) -> None:
    error = ClientError({"Error": {"Code": code, "Message": message}}, operation)
    assert explain(error) == said
