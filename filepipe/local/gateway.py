"""The local endpoint's front door: Lambda Invoke and Batch go to the local emulators, every
other request to moto's server (S3, SQS, Step Functions and the rest)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from filepipe.local.batch import LocalBatch
from filepipe.local.lambdas import LocalLambda

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Route = Callable[[dict[str, Any], Callable[..., Any]], "Iterable[bytes] | None"]

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_BATCH = {"/v1/submitjob", "/v1/describejobs", "/v1/terminatejob"}


class Gateway:
    """A WSGI app: local routes first (in order), moto's app for the rest."""

    def __init__(self, moto_app: WsgiApp, lambdas: LocalLambda, batch: LocalBatch) -> None:
        self._moto, self._lambdas, self._batch = moto_app, lambdas, batch
        self.routes: list[Route] = [self._lambda_invoke, self._batch_api]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for route in self.routes:
            answer = route(environ, start_response)
            if answer is not None:
                return answer
        return self._moto(environ, start_response)

    def _lambda_invoke(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        match = _INVOKE.match(environ.get("PATH_INFO", ""))
        if environ["REQUEST_METHOD"] != "POST" or not match:
            return None
        name = unquote(match["name"])
        if not self._lambdas.knows(name):
            return None
        result = self._lambdas.invoke(name, read_body(environ))
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        return respond(start_response, 200, result.payload, headers)

    def _batch_api(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "").lower()
        if environ["REQUEST_METHOD"] != "POST" or path not in _BATCH:
            return None
        request = json.loads(read_body(environ) or b"{}")
        try:
            if path == "/v1/submitjob":
                answer = self._batch.submit(request)
            elif path == "/v1/describejobs":
                answer = self._batch.describe(request.get("jobs", []))
            else:
                answer = self._batch.terminate(request.get("jobId", ""), request.get("reason", ""))
        except LookupError as exc:
            body = json.dumps({"__type": "ClientException", "message": str(exc)}).encode()
            return respond(start_response, 400, body, [("x-amzn-ErrorType", "ClientException")])
        return json_response(start_response, 200, answer)


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def respond(
    start_response: Callable[..., Any], status: int, body: bytes, headers: list[tuple[str, str]]
) -> list[bytes]:
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "")
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def json_response(start_response: Callable[..., Any], status: int, value: Any) -> list[bytes]:
    body = json.dumps(value, default=str).encode()
    return respond(start_response, status, body, [("Content-Type", "application/json")])
