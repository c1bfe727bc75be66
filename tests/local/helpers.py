"""Helpers for the local-cloud tests; the cloud fixtures live in tests/conftest.py."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote_plus

from filepipe.map_runs import map_progress
from filepipe.operations import ExecutionView, Target, describe

THRESHOLD = 256 * 1024
"""The local cloud's large-file threshold in these tests: above it, files take the Batch path."""
PRESIGN_MAX = 1024 * 1024
"""Uploads above this get multipart credentials from the upload API in these tests."""
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def settle(target: Target, expected: int, timeout: float = 60) -> list[ExecutionView]:
    """Wait until ``expected`` executions exist and all have ended; return them, newest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pages = target.sfn.get_paginator("list_executions").paginate(stateMachineArn=target.state_machine_arn)
        listed = [e for page in pages for e in page["executions"]]
        if len(listed) >= expected and all(e["status"] in TERMINAL for e in listed):
            return [describe(target, e["executionArn"]) for e in listed]
        time.sleep(0.2)
    raise AssertionError(f"executions did not settle: {listed}")


def follow_map_run(target: Target, arn: str, timeout: float = 240, interval: float = 0.5) -> dict[str, int]:
    """Wait for a backfill's or reprocess's execution to succeed; its Map Run's item counts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = map_progress(target, arn)
        if progress.done:
            assert progress.status == "SUCCEEDED", progress
            return progress.items
        time.sleep(interval)
    raise AssertionError(f"{arn} did not end")


def by_key(views: list[ExecutionView]) -> dict[str, ExecutionView]:
    return {v.key: v for v in views}


def staging_versions(target: Target) -> list[Any]:
    listing = target.s3.list_object_versions(Bucket=target.staging_bucket)
    return [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]


def notification_for(state: dict[str, Any]) -> dict[str, Any]:
    """The S3 notification that announced an execution's object (to deliver it again)."""
    obj = {
        k: state[s]
        for k, s in (("size", "size"), ("eTag", "etag"), ("versionId", "versionId"), ("sequencer", "sequencer"))
    }
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": state["eventTime"],
                "s3": {"bucket": {"name": state["bucket"]}, "object": {"key": quote_plus(state["key"]), **obj}},
            }
        ]
    }


def raw(port: int, request: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (any Host, any framing) to the local cloud and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def signed_request(
    endpoint: str,
    service: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    credentials: tuple[str, ...] = ("test", "test"),
) -> bytes:
    """An HTTP/1.1 request signed with SigV4 as an SDK signs it (the developer's key by default;
    a session's key, secret and token), whatever its body: for requests an SDK would refuse to
    send."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(*credentials), service, "us-east-1").add_auth(aws)
    host = endpoint.split("://", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in aws.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextlib.contextmanager
def page_elsewhere(page: bytes) -> Iterator[str]:
    """``page`` served from another loopback port (another origin on the same machine, and the
    same site as the local cloud to a browser); its URL. The server stops with the block."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (for a local cloud a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningUp:
    """``filepipe up`` in a child process (``argv``: up to its options, without ``--port``): its
    banner, and everything it prints after, as it comes."""

    def __init__(self, argv: list[str], port: int, cwd: str | None = None, env: dict[str, str] | None = None) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [*argv, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=(env or dict(os.environ)) | {"PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._banner_done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "Ctrl-C stops" in line:
                self._banner_done.set()
        self._banner_done.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_banner(self, timeout: float = 90) -> str:
        assert self._banner_done.wait(timeout), f"no banner after {timeout} s:\n{self.output}"
        assert self.process.poll() is None, f"up exited:\n{self.output}"
        return self.output

    def wait_for_line(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if text in line), None)
            if found is not None:
                return found
            time.sleep(0.1)
        raise AssertionError(f"up never printed {text!r}:\n{self.output[-3000:]}")

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a developer stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        return code
