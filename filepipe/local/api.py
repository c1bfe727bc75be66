"""The upload API locally: WSGI requests to ``/api/...`` and ``/ui/...`` become API Gateway
HTTP API (v2) events for the very function the stack deploys, invoked in its local execution
environments; a failed invocation answers 500, as API Gateway does. As in the stack, ``/api/``
routes need a user pool's token (the JWT authorizer, ``authorizer.py``) and ``/ui/`` is public."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from filepipe.local.authorizer import CognitoAuthorizer, Unauthorized
from filepipe.local.gateway import json_response, read_body, respond
from filepipe.local.lambdas import LocalLambda

PREFIXES = ("/api/", "/ui")
MAX_PAYLOAD = 10 * 1024 * 1024
"""API Gateway's limit on an HTTP API request's payload."""


class UploadApiRoute:
    def __init__(self, lambdas: LocalLambda, function_name: str, authorizer: CognitoAuthorizer | None = None) -> None:
        self._lambdas, self._function_name = lambdas, function_name
        self.authorizer = authorizer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIXES):
            return None
        if int(environ.get("CONTENT_LENGTH") or 0) > MAX_PAYLOAD:
            return json_response(start_response, 413, {"message": "Request Entity Too Large"})
        event = to_event(environ)
        if path.startswith("/api/") and self.authorizer is not None:
            try:
                claims = self.authorizer.claims(environ.get("HTTP_AUTHORIZATION"))
            except Unauthorized:
                return json_response(start_response, 401, {"message": "Unauthorized"})
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        result = self._lambdas.invoke(self._function_name, json.dumps(event).encode())
        if result.function_error:
            return json_response(start_response, 500, {"message": "Internal Server Error"})
        answer = json.loads(result.payload)
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode("utf-8")
        headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
        for cookie in answer.get("cookies") or []:
            headers.append(("Set-Cookie", cookie))
        return respond(start_response, int(answer.get("statusCode", 200)), data, headers)


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
        **_body(body),
    }


def _body(body: bytes) -> dict[str, Any]:
    """The body as API Gateway passes it: text, or base64 when it is not UTF-8."""
    if not body:
        return {"body": None, "isBase64Encoded": False}
    try:
        return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}
