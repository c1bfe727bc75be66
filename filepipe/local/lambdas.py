"""Local Lambda: the real handlers, each function in its own warm execution environments.

An environment is a ``python -m filepipe.lambda_runtime`` process, started on demand with
the function's environment variables and reused while it lives, as in Lambda; at most the
function's concurrency of them run at once, and further invocations wait for one. Running the
handlers outside the endpoint's process keeps their CPU off the one interpreter that serves S3,
SQS and Step Functions, and makes a crash a real one: a handler that exits kills its
environment, the invocation fails with ``Runtime.ExitError`` and the next one gets a new
environment. An invocation past the function's timeout is killed the same way
(``Sandbox.Timedout``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from filepipe.lambda_runtime import FRAME_HEADER, error_payload, write_frame
from filepipe.local.processes import REPOSITORY_ROOT, child_environment

_log = logging.getLogger(__name__)
SENT_PER_SLOT = 2
"""Invocations an in-process caller may have sent per concurrent slot: one running, one queued
behind it, so a slot is refilled without a round trip."""

EMF_PREFIX = b'{"_aws":'
"""How a line in CloudWatch's embedded metric format starts (Powertools Metrics prints them)."""
METRICS_KEPT = 10_000
Interceptor = Callable[[str, Any], None]
"""Called in the local cloud's process before each invocation with (function name, event);
raising fails the invocation with that exception. Tests use it to inject faults."""


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: str
    """Dotted path, as the image's CMD names it: ``transform_lambda.handler.handler``."""
    memory_mb: int = 512
    timeout_seconds: int = 900
    principal: str | None = None
    """Whose role it runs with (``filepipe/grants.py``); None: no credentials of its own."""


Credentials = Callable[[str], "tuple[dict[str, str], datetime]"]
"""Principal -> the variables of a new session of its role, and when that session ends."""


@dataclass
class WrittenLog:
    """What one function's handlers wrote (log lines and embedded-format metrics alike): what
    CloudWatch Logs would ingest from them in AWS, where the cost model prices it."""

    lines: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class InvocationResult:
    payload: bytes
    function_error: str | None


class _EnvironmentEnded(Exception):
    """The environment's process is gone (or was killed); ``reason`` is Lambda's error payload."""

    def __init__(self, reason: dict[str, Any]) -> None:
        super().__init__(reason["errorMessage"])
        self.reason = reason


class ExecutionEnvironment:
    """One runtime process for one function."""

    def __init__(
        self,
        function: LocalFunction,
        env: Mapping[str, str],
        generation: int = 0,
        expires: datetime | None = None,
        on_metrics: Callable[[dict[str, Any]], None] | None = None,
        written: WrittenLog | None = None,
    ) -> None:
        self.function, self.generation, self.expires = function, generation, expires
        self.written = written if written is not None else WrittenLog()
        """``expires``: when the role credentials it was started with end."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "filepipe.lambda_runtime", function.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=REPOSITORY_ROOT,
        )
        self._output = threading.Thread(target=self._route_output, args=(on_metrics,), daemon=True)
        self._output.start()

    def _route_output(self, on_metrics: Callable[[dict[str, Any]], None] | None) -> None:
        """What the handler prints: lines in CloudWatch's embedded metric format are metrics (as
        CloudWatch Logs extracts them in AWS); the rest goes on to this process's stderr, at the
        descriptor, as if the environment wrote there itself. Reads to the end whatever happens,
        so the handler never blocks on a full pipe."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.written.lines += 1
            self.written.bytes += len(line.rstrip(b"\n"))
            try:
                if line.startswith(EMF_PREFIX):
                    if on_metrics is not None:
                        on_metrics(json.loads(line))
                else:
                    os.write(2, line)
            except Exception:  # a malformed metric line or a closed stderr must not stop the reading
                continue

    def invoke(self, event: Any, context: dict[str, Any]) -> dict[str, Any]:
        """The runtime's reply: ``{"result": ...}`` or ``{"error": <payload>}``."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request_id = context["aws_request_id"]
        try:
            write_frame(self.process.stdin, json.dumps({"event": event, "context": context}).encode())
            header = self._read(self.process.stdout, FRAME_HEADER.size, context["deadline"], request_id)
            (length,) = FRAME_HEADER.unpack(header)
            body = self._read(self.process.stdout, length, context["deadline"], request_id)
        except (BrokenPipeError, ConnectionResetError):
            raise self._ended(request_id) from None
        return dict(json.loads(body))

    def _read(self, stream: IO[bytes], size: int, deadline: float, request_id: str) -> bytes:
        chunks: list[bytes] = []
        while size > 0:
            ready, _, _ = select.select([stream], [], [], max(deadline - time.time(), 0))
            if not ready:
                self.close(kill=True)
                seconds = f"{self.function.timeout_seconds:.2f}"
                raise _EnvironmentEnded(
                    {
                        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds} seconds",
                        "errorType": "Sandbox.Timedout",
                    }
                )
            chunk = os.read(stream.fileno(), size)
            if not chunk:
                raise self._ended(request_id)
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _ended(self, request_id: str) -> _EnvironmentEnded:
        status = self.process.wait(timeout=30)
        if status < 0:
            how = f"signal: {(signal.strsignal(-status) or str(-status)).lower()}"
        else:
            how = f"exit status {status}"
        return _EnvironmentEnded(
            {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}",
                "errorType": "Runtime.ExitError",
            }
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def usable(self) -> bool:
        """Alive, and its credentials outlast one more invocation (Lambda renews them; here a new
        environment starts with a new session instead)."""
        if not self.alive:
            return False
        margin = timedelta(seconds=self.function.timeout_seconds + 60)
        return self.expires is None or self.expires - datetime.now(UTC) > margin

    def end_input(self) -> None:
        """Close stdin: the runtime then exits by itself."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    def close(self, kill: bool = False) -> None:
        """Close stdin and wait for the runtime to exit, or kill it."""
        if kill:
            self.process.kill()
        else:
            self.end_input()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._output.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


class LocalLambda:
    """A registry of functions, invoked by name or ARN with Lambda's error contract."""

    def __init__(self, region: str, account: str) -> None:
        self._region, self._account = region, account
        self._functions: dict[str, LocalFunction] = {}
        self._overrides: dict[str, dict[str, str]] = {}
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._generation: dict[str, int] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._waiting_rooms: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._configured: dict[str, dict[str, str]] = {}
        """Each function's environment, as deployed (:meth:`configure`)."""
        self.credentials: Credentials | None = None
        """Sessions of each function's role; None: functions get no credentials of their own."""
        self.interceptors: list[Interceptor] = []
        self.invocations: dict[str, int] = {}
        self.environments_started: dict[str, int] = {}
        self.metrics: collections.deque[dict[str, Any]] = collections.deque(maxlen=METRICS_KEPT)
        """The latest embedded-format metric records the functions emitted, oldest first."""
        self.written: dict[str, WrittenLog] = collections.defaultdict(WrittenLog)
        """What each function's handlers wrote, by function name."""

    def add(self, function: LocalFunction, concurrency: int = 4) -> str:
        """Register a function that runs at most ``concurrency`` invocations at once."""
        self._functions[function.name] = function
        self._idle[function.name] = []
        self._generation[function.name] = 0
        self._slots[function.name] = threading.BoundedSemaphore(concurrency)
        self._waiting_rooms[function.name] = threading.BoundedSemaphore(SENT_PER_SLOT * concurrency)
        return self.arn(function.name)

    def waiting_room(self, name_or_arn: str) -> contextlib.AbstractContextManager[Any]:
        """Where a caller in this process (the Step Functions engine) waits before it sends an
        invocation: a burst of thousands then waits holding a thread each, not also a connection,
        a server thread and a selector each, which ran this process out of file descriptors at
        10,000 executions. A function this cloud does not run waits for nothing."""
        room = self._waiting_rooms.get(self._name(name_or_arn))
        return room if room is not None else contextlib.nullcontext()

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:{name}"

    def knows(self, name_or_arn: str) -> bool:
        return self._name(name_or_arn) in self._functions

    def name_of(self, name_or_arn: str) -> str:
        """The function's name, from its name, ARN or qualified name."""
        return self._name(name_or_arn)

    def configure(self, name: str, variables: Mapping[str, str]) -> None:
        """A function's environment as the deployment gives it (later invocations get it)."""
        with self._lock:
            self._configured[name] = dict(variables)

    def update_environment(self, name: str, variables: Mapping[str, str]) -> None:
        """Add variables to one function, as UpdateFunctionConfiguration does: its warm
        environments are retired and later invocations start with the new ones."""
        with self._lock:
            self._overrides[name] = self._overrides.get(name, {}) | dict(variables)
        self.retire(name)

    def restore_configuration(self) -> None:
        """Drop every :meth:`update_environment`."""
        with self._lock:
            names, self._overrides = list(self._overrides), {}
        for name in names:
            self.retire(name)

    def retire(self, name: str | None = None) -> None:
        """Close the idle environments of one function (or all); busy ones close when done."""
        with self._lock:
            names = [name] if name else list(self._idle)
            retiring = [env for n in names for env in self._idle[n]]
            for n in names:
                self._idle[n] = []
                self._generation[n] += 1
        for env in retiring:  # all told first, so that they exit together: stopping waits for one, not all
            env.end_input()
        for env in retiring:
            env.close()

    def close(self) -> None:
        self.retire()

    def invoke(self, name_or_arn: str, payload: bytes) -> InvocationResult:
        """Run the handler in a warm (or new) environment; failures become Lambda's error payloads."""
        function = self._functions[self._name(name_or_arn)]
        request_id = str(uuid.uuid4())
        with self._lock:
            self.invocations[function.name] = self.invocations.get(function.name, 0) + 1
        try:
            event = json.loads(payload or b"{}")
            for intercept in list(self.interceptors):
                intercept(function.name, event)
        except Exception as exc:
            _log.info("%s raised %s: %s", function.name, type(exc).__name__, exc)
            return self._error(error_payload(exc, request_id=request_id))
        context = {
            "function_name": function.name,
            "memory_limit_in_mb": function.memory_mb,
            "invoked_function_arn": self.arn(function.name),
            "aws_request_id": request_id,
            "deadline": time.time() + function.timeout_seconds,
        }
        with self._slots[function.name]:
            env = self._checkout(function)
            try:
                reply = env.invoke(event, context)
            except _EnvironmentEnded as ended:
                _log.warning("%s: %s", function.name, ended)
                env.close(kill=True)
                return self._error(ended.reason)
            except BaseException:
                env.close(kill=True)
                raise
            self._checkin(env)
        if "error" in reply:
            _log.info("%s raised %s: %s", function.name, reply["error"]["errorType"], reply["error"]["errorMessage"])
            return self._error(reply["error"])
        return InvocationResult(json.dumps(reply["result"]).encode(), None)

    def _checkout(self, function: LocalFunction) -> ExecutionEnvironment:
        """A warm environment of ``function``, or a new one; idle ones that died are reaped."""
        dead = []
        with self._lock:
            idle, warm = self._idle[function.name], None
            while idle and warm is None:
                env = idle.pop()
                if env.usable:
                    warm = env
                else:
                    dead.append(env)
            if warm is None:
                self.environments_started[function.name] = self.environments_started.get(function.name, 0) + 1
                generation = self._generation[function.name]
        for env in dead:
            env.close()
        if warm is not None:
            return warm
        variables, expires = self._variables(function)
        return ExecutionEnvironment(
            function, variables, generation, expires, self.metrics.append, self.written[function.name]
        )

    def _checkin(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            current = env.generation == self._generation[env.function.name]
            if current:
                self._idle[env.function.name].append(env)
        if not current:
            env.close()

    def _variables(self, function: LocalFunction) -> tuple[dict[str, str], datetime | None]:
        lambda_reserved = {
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": self._region,
            "_HANDLER": function.handler,
        }
        role: dict[str, str] = {}
        expires = None
        if self.credentials is not None and function.principal is not None:
            role, expires = self.credentials(function.principal)
        configured = self._configured.get(function.name, {}) | self._overrides.get(function.name, {})
        variables = configured | lambda_reserved | role
        return child_environment(variables), expires

    @staticmethod
    def _error(reason: dict[str, Any]) -> InvocationResult:
        return InvocationResult(json.dumps(reason).encode(), "Unhandled")

    @staticmethod
    def _name(name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn.split(":")[6]
        return name_or_arn.split(":")[0]
