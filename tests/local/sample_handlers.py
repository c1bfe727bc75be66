"""Tiny handlers for the execution-environment tests (tests/local/test_lambdas.py)."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any


def echo(event: Any, context: Any) -> dict[str, Any]:
    print("handlers may print: this goes to stderr, not into the reply")
    return {
        "event": event,
        "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
    }


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"cannot use {event!r}")


def exit_with(event: Any, context: Any) -> None:
    sys.exit(event["status"])


def sleep(event: Any, context: Any) -> dict[str, int]:
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def kill_self(event: Any, context: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def environment(event: Any, context: Any) -> dict[str, str]:
    return dict(os.environ)


def sized(event: Any, context: Any) -> str:
    """A reply of ``event["bytes"]`` bytes of JSON (a string of that length less its quotes)."""
    return "x" * (event["bytes"] - 2)
