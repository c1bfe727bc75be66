"""Local Lambda execution environments: warm reuse, Lambda's error contract for exceptions,
exits and timeouts, configuration updates and the concurrency limit."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from filepipe.local.lambdas import InvocationResult, LocalFunction, LocalLambda

HANDLERS = "tests.local.sample_handlers"


@pytest.fixture
def lambdas() -> Iterator[LocalLambda]:
    registry = LocalLambda("us-east-1", "123456789012")
    registry.add(LocalFunction("echo", f"{HANDLERS}.echo", timeout_seconds=30))
    registry.add(LocalFunction("fail", f"{HANDLERS}.fail"))
    registry.add(LocalFunction("exit", f"{HANDLERS}.exit_with"))
    registry.add(LocalFunction("killed", f"{HANDLERS}.kill_self"))
    registry.add(LocalFunction("env", f"{HANDLERS}.environment"))
    registry.add(LocalFunction("slow", f"{HANDLERS}.sleep", timeout_seconds=1))
    registry.add(LocalFunction("limited", f"{HANDLERS}.sleep"), concurrency=2)
    registry.add(LocalFunction("missing", f"{HANDLERS}.no_such_handler"))
    yield registry
    registry.close()


def call(lambdas: LocalLambda, name: str, event: Any) -> tuple[dict[str, Any], str | None]:
    result: InvocationResult = lambdas.invoke(name, json.dumps(event).encode())
    return json.loads(result.payload), result.function_error


def test_an_environment_is_started_once_and_reused(lambdas: LocalLambda) -> None:
    first, error = call(lambdas, "echo", {"n": 1})
    second, _ = call(lambdas, lambdas.arn("echo"), {"n": 2})
    assert error is None
    assert first["event"] == {"n": 1} and second["event"] == {"n": 2}
    assert first["pid"] == second["pid"], "the warm environment served both"
    assert first["request_id"] != second["request_id"]
    assert first["function"] == "echo"
    assert 25_000 < first["remaining_ms"] <= 30_000
    assert lambdas.environments_started == {"echo": 1}
    assert lambdas.invocations == {"echo": 2}


def test_an_exception_is_an_unhandled_error_and_the_environment_lives_on(lambdas: LocalLambda) -> None:
    payload, error = call(lambdas, "fail", "x")
    assert error == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "cannot use 'x'"
    assert any("raise ValueError" in line for line in payload["stackTrace"])
    call(lambdas, "fail", "y")
    assert lambdas.environments_started == {"fail": 1}


def test_an_exiting_handler_ends_its_environment_with_runtime_exit_error(lambdas: LocalLambda) -> None:
    payload, error = call(lambdas, "exit", {"status": 3})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: exit status 3")
    call(lambdas, "exit", {"status": 4})
    assert lambdas.environments_started == {"exit": 2}, "a dead environment is never reused"


def test_a_handler_killed_by_a_signal_reports_the_signal(lambdas: LocalLambda) -> None:
    payload, error = call(lambdas, "killed", {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_an_invocation_past_its_timeout_is_killed(lambdas: LocalLambda) -> None:
    started = time.monotonic()
    payload, error = call(lambdas, "slow", {"seconds": 30})
    assert time.monotonic() - started < 10
    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    _, error = call(lambdas, "slow", {"seconds": 0})
    assert error is None and lambdas.environments_started == {"slow": 2}


def test_a_handler_that_cannot_be_imported_says_so(lambdas: LocalLambda) -> None:
    payload, error = call(lambdas, "missing", {})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_handler" in payload["errorMessage"]


def test_a_configuration_update_replaces_the_warm_environments(lambdas: LocalLambda) -> None:
    before, _ = call(lambdas, "echo", {})
    lambdas.update_environment("echo", {"GREETING": "hello"})
    updated, _ = call(lambdas, "echo", {})
    assert before["greeting"] is None and updated["greeting"] == "hello"
    assert updated["pid"] != before["pid"]
    lambdas.restore_configuration()
    restored, _ = call(lambdas, "echo", {})
    assert restored["greeting"] is None


def test_at_most_the_functions_concurrency_runs_at_once(lambdas: LocalLambda) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: call(lambdas, "limited", {"seconds": 0.6}), range(4)))
    assert all(error is None for _, error in answers)
    assert time.monotonic() - started >= 1.2, "four 0.6 s invocations, two at a time"
    assert lambdas.environments_started == {"limited": 2}
    assert len({payload["pid"] for payload, _ in answers}) == 2


def test_interceptors_fail_an_invocation_before_it_reaches_an_environment(lambdas: LocalLambda) -> None:
    def refuse(name: str, event: Any) -> None:
        raise ConnectionError(f"{name} refused")

    lambdas.interceptors.append(refuse)
    payload, error = call(lambdas, "echo", {})
    assert error == "Unhandled" and payload["errorType"] == "ConnectionError"
    assert lambdas.environments_started == {}


def test_an_environment_sees_its_configuration_not_the_hosts(
    lambdas: LocalLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "developer")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")
    monkeypatch.setenv("SOME_HOST_SETTING", "x")
    lambdas.configure("env", {"STAGING_BUCKET": "staging", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
    seen, _ = call(lambdas, "env", {})
    assert seen["STAGING_BUCKET"] == "staging" and seen["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert {"AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "SOME_HOST_SETTING"}.isdisjoint(seen)
    assert seen["AWS_CONFIG_FILE"] == seen["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "env" and seen["_HANDLER"] == f"{HANDLERS}.environment"
    assert seen["PATH"] == os.environ["PATH"]


def test_an_idle_environment_that_died_is_replaced(lambdas: LocalLambda) -> None:
    first, _ = call(lambdas, "echo", {})
    os.kill(first["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{first['pid']}/stat").exists() and " Z " not in Path(f"/proc/{first['pid']}/stat").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second, error = call(lambdas, "echo", {})
    assert error is None and second["pid"] != first["pid"]
    assert lambdas.environments_started == {"echo": 2}
