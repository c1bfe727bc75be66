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
- a page of another site may not navigate to the AWS endpoints (``Sec-Fetch-Mode: navigate``
  from anything but the local cloud's own origin or the address bar), and every answer of an
  AWS endpoint comes with ``Content-Security-Policy: sandbox`` and ``nosniff``: a stored object,
  whatever content type a presigned GET asks for, never runs as a page of the local cloud's
  origin (where its script could sign with the well-known key and act as the administrator);
- its body must fit the largest request the service takes (S3's 5 GiB PUT; the route may set
  less), else 413, before a byte of it is read, and is bounded by the bytes read whatever its
  framing (``bodies.py``);
- a service's HTML error page, and a failure of its own, become JSON answers; a request whose
  body outlasts the server's time budget (``server.py``) is S3's ``RequestTimeout``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.exceptions import ClientDisconnected, HTTPException

from filepipe.local import bodies
from filepipe.storage import GiB

_log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_REQUEST_BYTES = 5 * GiB
"""S3's largest single PUT (and part): the largest request any AWS API takes."""
REQUEST_TIMEOUT = (
    "Your socket connection to the server was not read from or written to within the timeout period. "
    "Idle connections will be closed."
)
EXPOSED_HEADERS = "ETag, x-amz-version-id, x-amz-request-id, x-amz-delete-marker, x-amzn-RequestId"
_CORS_PREFIX = "access-control-"
NAVIGATIONS = ("navigate", "nested-navigate")
OWN_SITES = ("same-origin", "none")
"""Where a navigation to an AWS endpoint may come from: the local cloud's own origin, or the
address bar and bookmarks. Another port of 127.0.0.1 or localhost is ``same-site``: refused."""
ISOLATION_HEADERS = (("Content-Security-Policy", "sandbox"), ("X-Content-Type-Options", "nosniff"))
"""On every answer of an AWS endpoint: rendered, it is a page of no origin, with no script."""


@dataclass(frozen=True)
class FrontDoor:
    """Who may knock: host names and origins."""

    hosts: frozenset[str]
    origins: frozenset[str]
    max_request_bytes: int = MAX_REQUEST_BYTES
    app_paths: tuple[str, ...] = ()
    """Where the web app (the upload page and its API) is served; every other path is an AWS endpoint."""

    @classmethod
    def for_endpoint(
        cls, host: str, port: int, extra_origins: Iterable[str] = (), app_paths: tuple[str, ...] = ()
    ) -> FrontDoor:
        """The local cloud's own names (and ``host``), and its own origins plus ``extra_origins``."""
        names = {*LOOPBACK_HOSTS, host.strip("[]").lower()}
        origins = {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        if host not in ("0.0.0.0", "::"):
            origins.add(f"http://{_bracketed(host)}:{port}")
        return cls(frozenset(names), frozenset(origins | {o.rstrip("/") for o in extra_origins}), app_paths=app_paths)

    def is_aws_endpoint(self, path: str) -> bool:
        return not path.startswith(self.app_paths)

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
        aws = self.door.is_aws_endpoint(environ.get("PATH_INFO", ""))
        if aws and is_foreign_navigation(environ):
            message = "another site's page may not open the local cloud's AWS endpoints"
            return self._refuse(environ, start_response, "ForbiddenNavigation", message)
        if environ["REQUEST_METHOD"] == "OPTIONS":
            return self._preflight(environ, start_response, origin)
        try:
            refused = bodies.frame(environ, self.door.max_request_bytes)
            if refused is not None:
                bodies.close_after(environ)
                return refuse(start_response, refused.status, refused.code, refused.message)
            return _answer(self.app, environ, start_response, origin, ISOLATION_HEADERS if aws else ())
        except Exception as exc:
            bodies.close_after(environ)
            return self._failed(environ, start_response, exc)

    @staticmethod
    def _failed(environ: dict[str, Any], start_response: Callable[..., Any], exc: Exception) -> list[bytes]:
        """What a request that raised is answered: the server's time budget ran out while its
        body was read (werkzeug's body stream reports that as a disconnection), the body was
        shorter than its Content-Length, or the local cloud failed (a JSON 500, never a page)."""
        if any(isinstance(e, TimeoutError) for e in _chain(exc)):
            return refuse(start_response, 400, "RequestTimeout", REQUEST_TIMEOUT)
        if isinstance(exc, ClientDisconnected):
            return refuse(start_response, 400, "IncompleteBody", "the body is shorter than its Content-Length")
        if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
            return refuse(start_response, exc.code, "InvalidRequest", str(exc.description))
        _log.exception("the local cloud failed on %s %s", environ["REQUEST_METHOD"], environ.get("PATH_INFO"))
        return refuse(start_response, 500, "InternalFailure", "the local cloud failed; its log says why")

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


def is_foreign_navigation(environ: dict[str, Any]) -> bool:
    """A browser opening the URL as a page (or in a frame) for a page of another origin."""
    mode = str(environ.get("HTTP_SEC_FETCH_MODE", "")).lower()
    return mode in NAVIGATIONS and str(environ.get("HTTP_SEC_FETCH_SITE", "")).lower() not in OWN_SITES


def _answer(
    app: WsgiApp,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    origin: str | None,
    added: tuple[tuple[str, str], ...],
) -> Iterable[bytes]:
    """Run ``app``, then start the response with CORS headers for an allowed origin only (the
    services' own, which allow any origin, are dropped), the ``added`` headers in place of any
    of those names, and a JSON body in place of an HTML error page."""
    started: list[tuple[str, list[tuple[str, str]], Any]] = []
    body = app(environ, lambda status, headers, exc_info=None: started.append((status, headers, exc_info)))
    chunks = iter(body)
    first: list[bytes] = []
    if not started:  # an app that starts its response with its first chunk
        first = [chunk for chunk in (next(chunks, None),) if chunk is not None]
    status, headers, exc_info = started[-1]
    replaced = {name.lower() for name, _ in added}
    kept = [(k, _latin1(v)) for k, v in headers if not k.lower().startswith(_CORS_PREFIX) and k.lower() not in replaced]
    kept += added
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
        bodies.close_after(environ)
        return [error.encode()]
    start_response(status, kept, exc_info)
    return _Body(first, chunks, body, environ)


class _Body:
    """The app's body, after any chunk read early; closed as WSGI asks, with what the request
    left to close (a spooled body)."""

    def __init__(
        self, first: list[bytes], rest: Iterable[bytes], original: Iterable[bytes], environ: dict[str, Any]
    ) -> None:
        self._first, self._rest, self._original, self._environ = first, rest, original, environ

    def __iter__(self) -> Any:
        yield from self._first
        yield from self._rest

    def close(self) -> None:
        try:
            if hasattr(self._original, "close"):
                self._original.close()
        finally:
            bodies.close_after(self._environ)


def _latin1(value: str) -> str:
    """A header value as HTTP carries it: text past Latin-1 (a presigned GET's UTF-8 file name in
    ``response-content-disposition``) goes as its UTF-8 bytes, as S3 sends it."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")
    return value


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An exception and those it was raised from or during."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_html(body: bytes) -> bool:
    return body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html", b"<title"))


def refuse(start_response: Callable[..., Any], status: int, code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    reason = {
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        413: "Request Entity Too Large",
        500: "Internal Server Error",
    }.get(status, "")
    start_response(
        f"{status} {reason}",
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            # Every AWS answer names its request; Step Functions' Lambda task reads the ID of a
            # refused invocation, and without one the execution crashed instead of failing.
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
