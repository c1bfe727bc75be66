"""The upload API locally: WSGI requests to ``/api/...`` and ``/ui/...`` become API Gateway
HTTP API (v2) events for the very handler the stack deploys."""

from __future__ import annotations

import base64
import importlib
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from filepipe.local.gateway import read_body, respond
from filepipe.local.lambdas import LambdaContext

HANDLER = "upload_api.handler.handler"
PREFIXES = ("/api/", "/ui")


class UploadApiRoute:
    def __init__(self, function_name: str = "filepipe-upload-api") -> None:
        self._function_name = function_name
        self._handler: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIXES):
            return None
        answer = self.handler()(to_event(environ), LambdaContext(self._function_name, 512, self._function_name))
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode("utf-8")
        headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
        for cookie in answer.get("cookies") or []:
            headers.append(("Set-Cookie", cookie))
        return respond(start_response, int(answer.get("statusCode", 200)), data, headers)

    def handler(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if self._handler is None:
            module, _, name = HANDLER.rpartition(".")
            self._handler = getattr(importlib.import_module(module), name)
        return self._handler


def to_event(environ: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway HTTP API payload (format 2.0) for one WSGI request."""
    raw_query = environ.get("QUERY_STRING", "")
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    body = read_body(environ)
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": dict(parse_qsl(raw_query)) or None,
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": environ.get("REMOTE_ADDR", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": body.decode("utf-8") if body else None,
        "isBase64Encoded": False,
    }
