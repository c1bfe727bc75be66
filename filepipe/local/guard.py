"""The local cloud's front door: it answers only its own host names and allowed origins.

Binding to 127.0.0.1 keeps other machines out, not the developer's browser: any page it shows
can send requests to a loopback port, and a DNS-rebinding page can even read the answers. So
every request is checked before it reaches a service:

- its ``Host`` must be an address the local cloud listens on (``127.0.0.1``, ``localhost``,
  ``[::1]``, a ``*.localhost`` name, or the ``--host`` given): a rebinding page's host is its own
  domain, refused with 403;
- an ``Origin``, when a browser sends one, must be allowed (the stack's ``corsAllowedOrigins``,
  the local cloud's own origins, and any added with ``--allow-origin``), else 403; CORS answers
  only those origins (moto's server would answer any);
- its body must fit the largest request the service takes (S3's 5 GiB PUT; the route may set
  less), else 413, before a byte of it is read;
- a service's HTML error page becomes a JSON answer.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from filepipe.storage import GiB

_log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_REQUEST_BYTES = 5 * GiB
"""S3's largest single PUT (and part): the largest request any AWS API takes."""
EXPOSED_HEADERS = "ETag, x-amz-version-id, x-amz-request-id, x-amz-delete-marker, x-amzn-RequestId"
_CORS_PREFIX = "access-control-"


@dataclass(frozen=True)
class FrontDoor:
    """Who may knock: host names and origins."""

    hosts: frozenset[str]
    origins: frozenset[str]
    max_request_bytes: int = MAX_REQUEST_BYTES

    @classmethod
    def for_endpoint(cls, host: str, port: int, extra_origins: Iterable[str] = ()) -> FrontDoor:
        """The local cloud's own names (and ``host``), and its own origins plus ``extra_origins``."""
        names = {*LOOPBACK_HOSTS, host.strip("[]").lower()}
        origins = {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        if host not in ("0.0.0.0", "::"):
            origins.add(f"http://{_bracketed(host)}:{port}")
        return cls(frozenset(names), frozenset(origins | {o.rstrip("/") for o in extra_origins}))

    def allows_host(self, header: str) -> bool:
        name = host_name(header)
        return name in self.hosts or name.endswith(".localhost")

    def allows_origin(self, origin: str) -> bool:
        return origin in self.origins


def is_loopback(host: str) -> bool:
    """Whether ``--host`` keeps the local cloud on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:4566`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Guarded:
    """WSGI middleware applying a :class:`FrontDoor` before ``app``; it keeps the latest
    refusals (reason, path) for whoever wants to see what knocked."""

    def __init__(self, app: WsgiApp, door: FrontDoor) -> None:
        self.app, self.door = app, door
        self.refusals: deque[tuple[str, str]] = deque(maxlen=200)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        if not self.door.allows_host(host):
            return self._refuse(environ, start_response, "ForbiddenHost", f"{host!r} is not an address of this cloud")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.door.allows_origin(origin):
            message = f"origin {origin!r} may not call this local cloud"
            return self._refuse(environ, start_response, "ForbiddenOrigin", message)
        if environ["REQUEST_METHOD"] == "OPTIONS":
            return self._preflight(environ, start_response, origin)
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():
            return refuse(start_response, 400, "InvalidRequest", "Content-Length is not a number")
        if int(declared) > self.door.max_request_bytes:
            limit = self.door.max_request_bytes
            return refuse(start_response, 413, "EntityTooLarge", f"{declared} bytes is over the {limit}-byte limit")
        return _answer(self.app, environ, start_response, origin)

    def _refuse(
        self, environ: dict[str, Any], start_response: Callable[..., Any], code: str, message: str
    ) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        self.refusals.append((code, path))
        _log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"), path, message)
        return refuse(start_response, 403, code, message)

    def _preflight(
        self, environ: dict[str, Any], start_response: Callable[..., Any], origin: str | None
    ) -> Iterable[bytes]:
        if origin is None:
            return refuse(start_response, 400, "InvalidRequest", "a CORS preflight needs an Origin")
        headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, HEAD"),
            ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
            ("Access-Control-Max-Age", "3600"),
            ("Vary", "Origin"),
            ("Content-Length", "0"),
        ]
        start_response("200 OK", headers)
        return [b""]


def _answer(
    app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any], origin: str | None
) -> Iterable[bytes]:
    """Run ``app``, then start the response with CORS headers for an allowed origin only (the
    services' own, which allow any origin, are dropped), and a JSON body in place of an HTML
    error page."""
    started: list[tuple[str, list[tuple[str, str]], Any]] = []
    body = app(environ, lambda status, headers, exc_info=None: started.append((status, headers, exc_info)))
    chunks = iter(body)
    first: list[bytes] = []
    if not started:  # an app that starts its response with its first chunk
        first = [chunk for chunk in (next(chunks, None),) if chunk is not None]
    status, headers, exc_info = started[-1]
    kept = [(k, v) for k, v in headers if not k.lower().startswith(_CORS_PREFIX)]
    if origin is not None:
        kept += [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
            ("Vary", "Origin"),
        ]
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if status[:1] in "45" and content_type.startswith("text/html"):
        first = [b"".join([*first, *chunks])]  # an error's body is small
        if hasattr(body, "close"):
            body.close()
        chunks = iter(())
    if status[:1] in "45" and first and _is_html(first[0]):
        code = int(status.split(" ", 1)[0])
        error = json.dumps({"__type": "InternalFailure" if code >= 500 else "InvalidRequest", "message": status})
        kept = [(k, v) for k, v in kept if k.lower() not in ("content-type", "content-length")]
        start_response(status, [*kept, ("Content-Type", "application/json"), ("Content-Length", str(len(error)))])
        return [error.encode()]
    start_response(status, kept, exc_info)
    return _Body(first, chunks, body)


class _Body:
    """The app's body, after any chunk read early; closed as WSGI asks."""

    def __init__(self, first: list[bytes], rest: Iterable[bytes], original: Iterable[bytes]) -> None:
        self._first, self._rest, self._original = first, rest, original

    def __iter__(self) -> Any:
        yield from self._first
        yield from self._rest

    def close(self) -> None:
        if hasattr(self._original, "close"):
            self._original.close()


def _is_html(body: bytes) -> bool:
    return body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html", b"<title"))


def refuse(start_response: Callable[..., Any], status: int, code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("Content-Length", str(len(body)))],
    )
    return [body]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
