"""One local Lambda execution environment: ``python -m filepipe.lambda_runtime``.

The local cloud starts one such process per warm environment and keeps it for later
invocations, as Lambda does. Requests arrive on stdin and replies leave on the process's
original stdout, both as length-prefixed JSON frames (:func:`read_frame`, :func:`write_frame`);
whatever the handler prints goes to stderr. A handler that exits or kills its process ends the
environment, and the parent reports the invocation as Lambda does (``Runtime.ExitError``).

``FILEPIPE_LAMBDA_PRELOAD`` (comma-separated modules) is imported before the handler: a hook for
debugging and fault injection in the local cloud only.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

FRAME_HEADER = struct.Struct(">I")
"""Each frame: its length as 4 bytes, big-endian, then that many bytes of JSON."""


def write_frame(stream: IO[bytes], body: bytes) -> None:
    stream.write(FRAME_HEADER.pack(len(body)) + body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at end of stream."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return body


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handlers (and Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    deadline: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - time.time()) * 1000), 0)


def error_payload(exc: BaseException, error_type: str | None = None, request_id: str = "") -> dict[str, Any]:
    """Lambda's ``Unhandled`` error payload for an exception."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_exception(exc)[-5:],
    }


def _load(dotted: str) -> Any:
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def serve(handler_path: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer invocations until stdin closes."""
    handler: Any = None
    while (frame := read_frame(requests)) is not None:
        request = json.loads(frame)
        context = LambdaContext(**request["context"])
        reply: dict[str, Any]
        try:
            if handler is None:
                try:
                    handler = _load(handler_path)
                except Exception as exc:
                    reply = {"error": error_payload(exc, "Runtime.ImportModuleError", context.aws_request_id)}
                    write_frame(replies, json.dumps(reply).encode())
                    continue
            reply = {"result": handler(request["event"], context)}
        except Exception as exc:
            reply = {"error": error_payload(exc, request_id=context.aws_request_id)}
        write_frame(replies, json.dumps(reply, default=str).encode())


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for module in filter(None, os.environ.get("FILEPIPE_LAMBDA_PRELOAD", "").split(",")):
        importlib.import_module(module.strip())
    serve(sys.argv[1], sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
