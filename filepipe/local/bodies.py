"""Request bodies at the front door: bounded by the bytes actually read, whatever their framing.

werkzeug's server dechunks a ``Transfer-Encoding: chunked`` body and marks its stream as ending
by itself (``wsgi.input_terminated``), leaving ``Content-Length`` as the client sent it, and the
services read such a stream to its end (moto's requests do). So a chunked body with a small
``Content-Length`` got past a presigned PUT's signed length, and past the size caps, which read
``Content-Length`` alone. Here, before a service sees the request:

- ``Transfer-Encoding`` together with ``Content-Length`` is refused (RFC 9112 lets a server refuse
  the pair: it is how one request is smuggled in another), and so is any coding but ``chunked``;
- a chunked body is read, up to the cap, into a spooled file and passed on with its real length
  as ``Content-Length`` (so the signature checks and the caps see what was sent);
- any other body is passed on as a stream that ends at its ``Content-Length``, however much the
  client sends or a reader asks for.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.wsgi import LimitedStream

from filepipe.storage import MiB

CLOSE_AFTER = "filepipe.close_after"
"""The environ key listing what the front door closes once the answer is sent."""
_BLOCK = 1 * MiB
_IN_MEMORY = 1 * MiB
"""A chunked body up to this size stays in memory; a larger one goes to a temporary file."""


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


def frame(environ: dict[str, Any], limit: int) -> Refusal | None:
    """Make ``environ``'s body one of known length, at most ``limit`` bytes, or say why not."""
    coding = environ.get("HTTP_TRANSFER_ENCODING")
    declared = environ.get("CONTENT_LENGTH")
    if coding is not None:
        if declared:
            return Refusal(400, "InvalidRequest", "a request may not carry both Transfer-Encoding and Content-Length")
        if coding.strip().lower() != "chunked":
            return Refusal(400, "InvalidRequest", f"Transfer-Encoding {coding!r} is not supported")
        return _spooled(environ, limit)
    declared = declared or "0"
    if not declared.isdigit():
        return Refusal(400, "InvalidRequest", "Content-Length is not a number")
    if int(declared) > limit:
        return Refusal(413, "EntityTooLarge", f"{declared} bytes is over the {limit}-byte limit")
    environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], int(declared))
    return None


def _spooled(environ: dict[str, Any], limit: int) -> Refusal | None:
    """Read a chunked body into a spooled file (closed after the answer, ``CLOSE_AFTER``)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115  # outlives this call
    environ.setdefault(CLOSE_AFTER, []).append(spool)
    stream, size = environ["wsgi.input"], 0
    try:
        while block := stream.read(_BLOCK):
            size += len(block)
            if size > limit:
                return Refusal(413, "EntityTooLarge", f"the chunked body is over the {limit}-byte limit")
            spool.write(block)
    except TimeoutError:
        raise  # the server's budget: the front door answers it
    except OSError:  # werkzeug's dechunker: a chunk header that is not a hexadecimal size
        return Refusal(400, "IncompleteBody", "the chunked body is malformed")
    spool.seek(0)
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING")
    environ.pop("wsgi.input_terminated", None)
    return None


def close_after(environ: dict[str, Any]) -> None:
    for item in environ.pop(CLOSE_AFTER, []):
        item.close()
