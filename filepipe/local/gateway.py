"""The local endpoint's front door: Lambda Invoke and Batch go to the local emulators, every
other request to moto's server (S3, SQS, Step Functions, IAM, STS).

Every AWS API request is held to IAM as AWS holds it: its signature is verified and its caller's
role (narrowed by any session policy) must allow the action on the resource
(``adapter/iam.py``); an unsigned request never reaches a service. moto's own control API
(``/moto-api/``), which could empty every service, is not served: the local cloud drives moto
in-process. What reaches the gateway has passed the front door (``guard.py``).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from werkzeug.datastructures import EnvironHeaders

from filepipe.local import batch_requests as checked
from filepipe.local import shapes
from filepipe.local.adapter import iam, policy
from filepipe.local.adapter.quotas import MAX_RESPONSE_REPORTED, MAX_SYNC_PAYLOAD
from filepipe.local.batch import CREDENTIALS_PATH, LocalBatch
from filepipe.local.lambdas import LocalLambda

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Route = Callable[[dict[str, Any], Callable[..., Any]], "Iterable[bytes] | None"]

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_BATCH = {"/v1/submitjob": "SubmitJob", "/v1/describejobs": "DescribeJobs", "/v1/terminatejob": "TerminateJob"}
_REFUSED_JSON_CODES = {"AccessDenied": "AccessDeniedException", "InvalidClientTokenId": "UnrecognizedClientException"}


class Gateway:
    """A WSGI app: local routes first (in order), moto's app for the rest."""

    def __init__(self, moto_app: WsgiApp, lambdas: LocalLambda, batch: LocalBatch, account: str, region: str) -> None:
        self._moto, self._lambdas, self._batch = moto_app, lambdas, batch
        self._account, self._region = account, region
        self.routes: list[Route] = [self._moto_api, self._task_credentials, self._lambda_invoke, self._batch_api]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with iam.enforcing():
            for route in self.routes:
                answer = route(environ, start_response)
                if answer is not None:
                    return answer
            if not is_signed(environ) and not is_public(environ):
                message = "the local cloud's AWS APIs answer signed requests only (the key is test/test)"
                return json_error(start_response, 403, "MissingAuthenticationTokenException", message)
            try:
                check_before_moto(environ)
            except policy.Refused as refused:
                return aws_error(environ, start_response, refused)
            return self._moto(environ, start_response)

    def authorize(self, environ: dict[str, Any], body: bytes, action: str, resources: Iterable[str]) -> None:
        """Check the request's signature, and that its caller may do ``action`` on each resource;
        raises :class:`policy.Refused`."""
        caller = iam.signed_request(
            self._account,
            environ["REQUEST_METHOD"],
            raw_path(environ),
            environ.get("QUERY_STRING", ""),
            EnvironHeaders(environ),
            body,
            action,
            s3=False,
        )
        for resource in resources:
            caller.check_action_permitted(resource)

    def _moto_api(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            return None
        return json_response(start_response, 403, {"message": "moto's control API is not served by the local cloud"})

    def _task_credentials(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        """The container credentials endpoint: a running job's task role, for its token only."""
        if environ.get("PATH_INFO") != CREDENTIALS_PATH:
            return None
        credentials = self._batch.task_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return json_response(start_response, 403, {"message": "no running job holds this token"})
        return json_response(start_response, 200, credentials)

    def _lambda_invoke(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        match = _INVOKE.match(environ.get("PATH_INFO", ""))
        if environ["REQUEST_METHOD"] != "POST" or not match:
            return None
        name = unquote(match["name"])
        if int(environ.get("CONTENT_LENGTH") or 0) > MAX_SYNC_PAYLOAD:
            message = f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            return json_error(start_response, 413, "RequestEntityTooLargeException", message)
        body = read_body(environ)
        if not self._lambdas.knows(name):
            return json_error(start_response, 404, "ResourceNotFoundException", f"Function not found: {name}")
        try:
            json.loads(body or b"{}")
        except (ValueError, RecursionError):
            message = "Could not parse request body into json: the payload is not JSON in UTF-8"
            return json_error(start_response, 400, "InvalidRequestContentException", message)
        try:
            self.authorize(environ, body, "InvokeFunction", [self._lambdas.arn(self._lambdas.name_of(name))])
        except policy.Refused as refused:
            return refused_response(start_response, refused)
        result = self._lambdas.invoke(name, body)
        payload, error = result.payload, result.function_error
        if len(payload) > MAX_RESPONSE_REPORTED:  # the handler returned; Lambda answers it could not be sent
            message = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_REPORTED} bytes)."
            payload = json.dumps({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}).encode()
            error = "Unhandled"
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        if error:
            headers.append(("X-Amz-Function-Error", error))
        return respond(start_response, 200, payload, headers)

    def _batch_api(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        path = environ.get("PATH_INFO", "").lower()
        if environ["REQUEST_METHOD"] != "POST" or path not in _BATCH:
            return None
        body = read_body(environ)
        try:
            request = checked.request_object(json.loads(body or b"{}"))
        except (ValueError, RecursionError):
            return json_error(start_response, 400, "ClientException", "the request body is not JSON")
        except checked.ClientException as exc:
            return json_error(start_response, 400, "ClientException", str(exc))
        try:
            self.authorize(environ, body, _BATCH[path], self._batch_resources(path, request))
            if path == "/v1/submitjob":
                answer = self._batch.submit(request)
            elif path == "/v1/describejobs":
                answer = self._batch.describe(checked.job_ids(request))
            else:
                answer = self._batch.terminate(*checked.termination(request))
        except policy.Refused as refused:
            return refused_response(start_response, refused)
        except checked.ClientException as exc:
            return json_error(start_response, 400, "ClientException", str(exc))
        return json_response(start_response, 200, answer)

    def _batch_resources(self, path: str, request: Mapping[str, Any]) -> list[str]:
        """SubmitJob is authorized on the job queue and the job definition, TerminateJob on the
        job; DescribeJobs has no resource-level permissions."""
        if path == "/v1/submitjob":
            return [str(request.get("jobQueue", "")), str(request.get("jobDefinition", ""))]
        if path == "/v1/terminatejob":
            return [f"arn:aws:batch:{self._region}:{self._account}:job/{request.get('jobId', '')}"]
        return ["*"]


def is_signed(environ: dict[str, Any]) -> bool:
    """Whether a request carries a signature, in its headers or (presigned) its query; which
    kinds are accepted is the service's check."""
    return "HTTP_AUTHORIZATION" in environ or "Signature=" in environ.get("QUERY_STRING", "")


PUBLIC_TARGETS = frozenset(
    f"AWSCognitoIdentityProviderService.{operation}"
    for operation in ("InitiateAuth", "RespondToAuthChallenge", "GetUser", "RevokeToken")
)
"""Cognito's sign-in calls, which AWS answers unsigned (a browser has no AWS credentials)."""
_PUBLIC_PATH = re.compile(r"^/[\w-]+_[0-9A-Za-z]+/\.well-known/(jwks\.json|openid-configuration)$")


def is_public(environ: dict[str, Any]) -> bool:
    """A call AWS takes without a signature: Cognito sign-in, a user pool's public keys."""
    if environ.get("HTTP_X_AMZ_TARGET") in PUBLIC_TARGETS:
        return environ["REQUEST_METHOD"] == "POST"
    return environ["REQUEST_METHOD"] == "GET" and bool(_PUBLIC_PATH.match(environ.get("PATH_INFO", "")))


_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def check_before_moto(environ: dict[str, Any]) -> None:
    """What moto's server takes on trust, checked as AWS checks it (:class:`policy.Refused`):
    the Authorization header it routes by, and a JSON or query request against its service's
    model (``shapes.py``). A query-protocol call (STS, IAM) is signed over its form body as sent,
    which moto's request parsing consumes, so the bytes are kept for the signature check."""
    kind = protocol(environ)
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        policy.signed_header_names(authorization, kind == "s3")
    if kind == "s3":
        return
    body = read_body(environ)
    environ[policy.RAW_BODY] = body
    environ["wsgi.input"] = io.BytesIO(body)
    if kind == "json" and "HTTP_X_AMZ_TARGET" in environ:
        shapes.check_json(environ["HTTP_X_AMZ_TARGET"], body)
    elif kind == "query" and (service := signing_service(environ)):
        shapes.check_query(service, body)


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service a header-signed request was signed for (its credential scope's)."""
    scope = _CREDENTIAL_SERVICE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return scope[1] if scope else None


def raw_path(environ: dict[str, Any]) -> str:
    """The path exactly as the client sent (and signed) it, percent-encoding included."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    return raw.split("?", 1)[0] or environ.get("PATH_INFO", "/")


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def respond(
    start_response: Callable[..., Any], status: int, body: bytes, headers: list[tuple[str, str]]
) -> list[bytes]:
    reason = {
        200: "OK",
        201: "Created",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        413: "Payload Too Large",
    }.get(status, "")
    if not any(name.lower() == "x-amzn-requestid" for name, _ in headers):
        headers = [*headers, ("x-amzn-RequestId", str(uuid.uuid4()))]  # every AWS answer names its request
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def json_response(start_response: Callable[..., Any], status: int, value: Any) -> list[bytes]:
    body = json.dumps(value, default=str).encode()
    return respond(start_response, status, body, [("Content-Type", "application/json")])


def json_error(start_response: Callable[..., Any], status: int, code: str, message: str) -> list[bytes]:
    """An error as the REST-JSON APIs (Lambda, Batch) answer it."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return respond(start_response, status, body, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)])


def protocol(environ: dict[str, Any]) -> str:
    """How the service a request is for speaks: ``s3`` (signed for S3, presigned, or neither
    of the others), ``json`` (a target header or a JSON body: Step Functions, SQS, Cognito,
    DynamoDB...) or ``query`` (a form: STS, IAM). An object uploaded as JSON is S3's."""
    if "X-Amz-Signature=" in environ.get("QUERY_STRING", "") or signing_service(environ) == "s3":
        return "s3"
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if "HTTP_X_AMZ_TARGET" in environ or "json" in content_type:
        return "json"
    return "query" if content_type.startswith("application/x-www-form-urlencoded") else "s3"


def aws_error(environ: dict[str, Any], start_response: Callable[..., Any], refused: policy.Refused) -> list[bytes]:
    """A refusal in the request's protocol's error format, as an SDK parses it."""
    kind = protocol(environ)
    if kind == "json":
        return refused_response(start_response, refused)
    code, message = escape(refused.code), escape(refused.message)
    request_id = str(uuid.uuid4())
    if kind == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    headers = [("Content-Type", "application/xml"), ("x-amzn-RequestId", request_id)]
    return respond(start_response, refused.status, body.encode(), headers)


def refused_response(start_response: Callable[..., Any], refused: policy.Refused) -> list[bytes]:
    code = _REFUSED_JSON_CODES.get(refused.code, refused.code)
    return json_error(start_response, refused.status, code, refused.message)
