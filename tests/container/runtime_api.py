"""A Lambda Runtime API on 127.0.0.1, enough for the runtime interface client (awslambdaric) in
the image to fetch invocations and post their results, as it does in Lambda
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
_RESULT = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass(frozen=True)
class Outcome:
    kind: str
    """``response``, ``error`` (the handler raised) or ``init-error`` (it could not be loaded)."""
    body: Any
    error_type: str | None = None


class RuntimeApi:
    """Queue events with :meth:`invoke`; the runtime in the container long-polls for them."""

    def __init__(self, function_arn: str, timeout_seconds: int = 60) -> None:
        self.function_arn, self.timeout_seconds = function_arn, timeout_seconds
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._outcomes: dict[str, queue.Queue[Outcome]] = {}
        self.init_errors: queue.Queue[Outcome] = queue.Queue()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        """``host:port``, as ``AWS_LAMBDA_RUNTIME_API`` names it."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, event: Any, wait: float = 60) -> Outcome:
        request_id = str(uuid.uuid4())
        self._outcomes[request_id] = queue.Queue()
        self._events.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                return self._outcomes[request_id].get(timeout=0.2)
            except queue.Empty:
                if not self.init_errors.empty():
                    return self.init_errors.get()
        raise TimeoutError(f"no answer to invocation {request_id} in {wait} s")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._answer(404, b"{}")
                    return
                request_id, body = api._events.get()
                deadline_ms = int((time.time() + api.timeout_seconds) * 1000)
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", api.function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}")
                self.send_header("Lambda-Runtime-Invocation-Id", request_id)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                match = _RESULT.match(self.path)
                if match and match["id"] in api._outcomes:
                    api._outcomes[match["id"]].put(Outcome(match["kind"], body, error_type))
                elif self.path == f"{PREFIX}/init/error":
                    api.init_errors.put(Outcome("init-error", body, error_type))
                else:
                    self._answer(404, b"{}")
                    return
                self._answer(202, b'{"status": "OK"}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
