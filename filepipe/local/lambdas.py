"""Local Lambda: runs the real handlers in this process when the engine invokes a function."""

from __future__ import annotations

import importlib
import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]
Interceptor = Callable[[str, Any], None]
"""Called before each invocation with (function name, event); raising fails the invocation.
Tests use it to inject faults."""


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: str
    """Dotted path, as the image's CMD names it: ``transform_lambda.handler.handler``."""
    memory_mb: int = 512
    timeout_seconds: int = 900


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handlers (and Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_seconds: int = 900

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass(frozen=True)
class InvocationResult:
    payload: bytes
    function_error: str | None


class LocalLambda:
    """A registry of functions, invoked by name or ARN with Lambda's error contract."""

    def __init__(self, region: str, account: str) -> None:
        self._region, self._account = region, account
        self._functions: dict[str, LocalFunction] = {}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.interceptors: list[Interceptor] = []
        self.invocations: dict[str, int] = {}

    def add(self, function: LocalFunction) -> str:
        self._functions[function.name] = function
        return self.arn(function.name)

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:{name}"

    def knows(self, name_or_arn: str) -> bool:
        return self._name(name_or_arn) in self._functions

    def invoke(self, name_or_arn: str, payload: bytes) -> InvocationResult:
        """Run the handler; an exception becomes Lambda's ``Unhandled`` error payload."""
        function = self._functions[self._name(name_or_arn)]
        context = LambdaContext(
            function_name=function.name,
            memory_limit_in_mb=function.memory_mb,
            invoked_function_arn=self.arn(function.name),
            timeout_seconds=function.timeout_seconds,
        )
        with self._lock:
            self.invocations[function.name] = self.invocations.get(function.name, 0) + 1
        try:
            event = json.loads(payload or b"{}")
            for intercept in list(self.interceptors):
                intercept(function.name, event)
            result = self._handler(function)(event, context)
        except SystemExit as exc:
            # What Lambda reports when the handler's process dies mid-invocation.
            crash: dict[str, Any] = {
                "errorMessage": f"RequestId: {context.aws_request_id} Error: Runtime exited with error: "
                f"exit status {exc.code}",
                "errorType": "Runtime.ExitError",
            }
            return InvocationResult(json.dumps(crash).encode(), "Unhandled")
        except Exception as exc:
            _log.info("%s raised %s: %s", function.name, type(exc).__name__, exc)
            error: dict[str, Any] = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_exception(exc)[-5:],
            }
            return InvocationResult(json.dumps(error).encode(), "Unhandled")
        return InvocationResult(json.dumps(result, default=str).encode(), None)

    def _handler(self, function: LocalFunction) -> Handler:
        with self._lock:
            if function.name not in self._handlers:
                module, _, attribute = function.handler.rpartition(".")
                self._handlers[function.name] = getattr(importlib.import_module(module), attribute)
            return self._handlers[function.name]

    @staticmethod
    def _name(name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn.split(":")[6]
        return name_or_arn.split(":")[0]
