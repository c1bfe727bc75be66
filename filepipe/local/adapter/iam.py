"""IAM as AWS enforces it, at the local cloud's endpoint: moto's access control, completed.

moto can check a header-signed request's signature and the caller's identity policies, behind a
process-wide switch. The local cloud enforces for every request that reaches its own endpoint
(:func:`enforcing`, entered by the gateway), never for moto used in-process by unit tests, and
closes the gaps where moto is more lenient than AWS. Each gap has a canary in
``tests/local/test_moto_adapter.py`` that fails if a moto upgrade changes it:

- presigned (query-string SigV4) requests: moto answers them with a 500 (it reads an
  Authorization header); here their signature, expiry and signer's permissions are checked;
- session policies: moto stores AssumeRole's ``Policy`` and ignores it; here it narrows the role;
- expired session credentials, and signatures older than S3's 15 minutes, are accepted by moto;
- policy wildcards: moto makes a policy's ``Resource`` a regular expression without escaping it,
  so a key with ``+`` or ``(`` never matched; here only ``*`` and ``?`` are special, as in IAM;
- Step Functions calls were checked against ``*``, so no grant on one state machine matched;
- SQS calls on a queue that does not exist (yet) were checked against ``*``;
- SQS's batch operations were checked under their own names (``sqs:DeleteMessageBatch``), which
  IAM does not have: AWS checks ``sqs:DeleteMessage``;
- CopyObject and UploadPartCopy checked only the destination; here reading the source too;
- HeadObject of a version needs ``s3:GetObjectVersion``; a missing key is 403 without
  ``s3:ListBucket``, as S3 answers;
- a trust policy naming a role did not match that role's sessions; AssumeRole's
  ``DurationSeconds`` was bounded neither by the role's maximum nor by role chaining's hour;
- unsigned requests got a 500; here a 403; Signature Version 2 (which S3 refuses for buckets
  made since 2020) is refused too, and an Authorization header nobody can read (a bare
  ``AWS4-HMAC-SHA256``) is a 400, where moto's server failed routing it;
- an S3 request carrying an ``x-amz-*`` header its signature does not cover (user metadata, an
  ACL) is refused as S3 refuses it; moto stored them.

Not modelled (the README says so): bucket and queue policies, KMS key policies (every key
delegates to IAM), condition keys other than those a request supplies (``kms:ViaService``,
``kms:CallerAccount``) and operators other than ``StringEquals``/``StringLike`` (such a statement is
never an Allow and always a Deny, the safe direction), and SigV4 payload hashes. S3's use of a
KMS key as the caller is ``kms.py``'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.dynamodb.responses import DynamoHandler
from moto.iam import access_control
from moto.iam.access_control import IAMRequest, S3IAMRequest
from moto.iam.models import iam_backends
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import S3ClientError
from moto.sqs import responses as sqs_responses
from moto.stepfunctions.responses import StepFunctionResponse
from moto.sts import responses as sts_responses

from filepipe.local.adapter import kms
from filepipe.local.adapter.policy import (
    MAX_CLOCK_SKEW,
    MAX_PRESIGN_SECONDS,
    MAX_SESSION_POLICY_CHARS,
    MIN_SESSION_SECONDS,
    RAW_BODY,
    ROLE_CHAINING_MAX_SECONDS,
    Caller,
    Refused,
    check_amz_headers_signed,
    signed_header_names,
    translated,
)

_scope = threading.local()


@contextlib.contextmanager
def enforcing() -> Iterator[None]:
    """Within this block (one request at the local cloud's endpoint), moto enforces IAM."""
    previous = getattr(_scope, "active", False)
    _scope.active = True
    try:
        yield
    finally:
        _scope.active = previous


def is_enforcing() -> bool:
    return bool(getattr(_scope, "active", False))


class _HeaderSignedRequest(Caller, IAMRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            IAMRequest.__init__(self, *args, **kwargs)
        except _RESTError as exc:
            raise translated(exc) from None
        self._find_session()

    def check_signature(self) -> None:
        self.check_freshness()
        try:
            IAMRequest.check_signature(self)
        except _RESTError as exc:
            raise translated(exc) from None


class _HeaderSignedS3Request(Caller, S3IAMRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            S3IAMRequest.__init__(self, *args, **kwargs)
        except S3ClientError as exc:
            raise Refused(403, exc.code, exc.message) from None
        self._find_session()

    def check_signature(self) -> None:
        self.check_freshness()
        try:
            S3IAMRequest.check_signature(self)
        except S3ClientError as exc:
            raise Refused(403, exc.code, exc.message) from None


class PresignedRequest(Caller):
    """A query-string SigV4 request (a presigned URL): S3's rules for it, checked by hand
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html)."""

    def __init__(self, account_id: str, method: str, raw_path: str, raw_query: str, headers: Any, action: str) -> None:
        self.account_id, self._method, self._raw_path, self._headers = account_id, method, raw_path, headers
        self._pairs = [
            (unquote(name), unquote(value))
            for name, _, value in (part.partition("=") for part in raw_query.split("&") if part)
        ]
        params = dict(self._pairs)
        try:
            self._signature = params["X-Amz-Signature"]
            self._date = params["X-Amz-Date"]
            self._expires = int(params["X-Amz-Expires"])
            self.signed_headers = params["X-Amz-SignedHeaders"].split(";")
            access_key_id, self._scope_date, self._region, self._service, _ = params["X-Amz-Credential"].split("/")
        except (KeyError, ValueError):
            raise Refused(
                400, "AuthorizationQueryParametersError", "Query-string authentication requires the X-Amz-* parameters"
            ) from None
        if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise Refused(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports AWS4-HMAC-SHA256")
        self._action = f"{self._service}:{action}"
        key_headers = (
            {"X-Amz-Security-Token": params["X-Amz-Security-Token"]} if "X-Amz-Security-Token" in params else {}
        )
        try:
            self._access_key = access_control.create_access_key(
                account_id=account_id, partition="aws", access_key_id=access_key_id, headers=key_headers
            )
        except access_control.CreateAccessKeyFailure as exc:
            code = "InvalidToken" if exc.reason == "InvalidToken" else "InvalidAccessKeyId"
            raise Refused(403, code, "The AWS access key or security token in the request is not valid") from None
        self._find_session()

    def check_signature(self) -> None:
        if not 1 <= self._expires <= MAX_PRESIGN_SECONDS:
            raise Refused(
                400,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
        try:
            signed = datetime.strptime(self._date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused(400, "AuthorizationQueryParametersError", "X-Amz-Date must be in ISO 8601 format") from None
        now = datetime.now(UTC)
        if now > signed + timedelta(seconds=self._expires):
            raise Refused(403, "AccessDenied", "Request has expired")
        if signed - now > MAX_CLOCK_SKEW:
            raise Refused(403, "AccessDenied", "Request is not yet valid")
        secret = self._access_key._secret_access_key
        if not hmac.compare_digest(self.signature(secret), self._signature):
            raise Refused(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )

    def signature(self, secret: str) -> str:
        """SigV4's query-string signature of this request, with an unsigned payload."""
        query = "&".join(
            f"{_encode(name)}={_encode(value)}" for name, value in sorted(self._pairs) if name != "X-Amz-Signature"
        )
        headers = "".join(
            f"{name}:{' '.join(str(self._headers.get(name, '')).split())}\n" for name in self.signed_headers
        )
        canonical = "\n".join(
            [self._method, self._raw_path, query, headers, ";".join(self.signed_headers), "UNSIGNED-PAYLOAD"]
        )
        scope = f"{self._scope_date}/{self._region}/{self._service}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", self._date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = f"AWS4{secret}".encode()
        for part in (self._scope_date, self._region, self._service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def signed_request(
    account_id: str, method: str, raw_path: str, raw_query: str, headers: Any, body: bytes, action: str, s3: bool
) -> Caller:
    """Who signed this request, with its signature, session and freshness checked."""
    caller: Caller
    if "Signature=" in raw_query and "X-Amz-Signature=" not in raw_query:
        message = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
        raise Refused(400, "InvalidRequest", message)
    if "X-Amz-Signature=" in raw_query:
        if not s3:
            raise Refused(403, "AccessDenied", "Only S3 accepts presigned requests at the local cloud")
        caller = PresignedRequest(account_id, method, raw_path, raw_query, headers, action)
        signed = caller.signed_headers
    elif "Authorization" in headers:
        signed = signed_header_names(headers["Authorization"], s3)
        path = f"{raw_path}?{raw_query}" if raw_query else raw_path
        cls = _HeaderSignedS3Request if s3 else _HeaderSignedRequest
        caller = cls(
            account_id=account_id, method=method, path=path, data={}, body=body, headers=headers, action=action
        )
    elif s3:
        raise Refused(403, "AccessDenied", "Anonymous access is not allowed: the request is not signed")
    else:
        raise Refused(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    caller.check_signature()
    if s3:
        check_amz_headers_signed(headers, signed)
    return caller


# -- the patches -----------------------------------------------------------------------------------

_original_authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    if not is_enforcing():
        _original_authenticate(self, iam_request_cls, resource)
        return
    if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    s3 = issubclass(iam_request_cls, S3IAMRequest)
    request = self.normalized_request
    body = request.environ.get(RAW_BODY, self.raw_body)
    try:
        caller = signed_request(
            self.current_account,
            self.method,
            request.raw_path,
            request.query_string.decode("latin-1"),
            self.headers,
            body if isinstance(body, bytes) else str(body or "").encode(),
            self._get_action(),
            s3,
        )
        caller.check_action_permitted(resource)
        if s3:
            _check_copy_source(caller, self.method, self.headers)
            kms.check(self, caller)
    except Refused as refused:
        if s3:
            raise S3ClientError(refused.code, refused.message) from None
        error = _service_error(refused, self.headers)
        self.response_headers.update(error.get_headers())  # moto answers a refusal with these, not the error's
        raise error from None
    self._filepipe_caller = caller


def _check_copy_source(caller: Caller, method: str, headers: Any) -> None:
    """CopyObject and UploadPartCopy read their source: the caller must be allowed to."""
    source = headers.get("x-amz-copy-source")
    if method != "PUT" or not source:
        return
    path, _, query = unquote(source).lstrip("/").partition("?")
    versioned = "versionId=" in query
    caller.require("s3:GetObjectVersion" if versioned else "s3:GetObject", f"arn:aws:s3:::{path}")


def _service_error(refused: Refused, headers: Any) -> _RESTError:
    json_protocol = "X-Amz-Target" in headers or "json" in str(headers.get("Content-Type", ""))
    error_class = JsonRESTError if json_protocol else _RESTError
    error = error_class(refused.code, refused.message)
    error.code = refused.status
    return error


_original_key_response = s3_responses.S3Response.key_response
_original_head_actions = dict(s3_responses.ACTION_MAP["KEY"]["HEAD"])
_original_stepfunctions_resource = StepFunctionResponse.__dict__.get("_determine_resource")
_original_sqs_resource = sqs_responses.SQSResponse._determine_resource


def _key_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
    """S3 answers a GET or HEAD of a missing key with 403 unless the caller may list the bucket."""
    status, response_headers, body = _original_key_response(self, request, full_url, headers)
    caller: Caller | None = getattr(self, "_filepipe_caller", None)
    if status == 404 and caller is not None and request.method in ("GET", "HEAD"):
        bucket = self.parse_bucket_name_from_url(request, full_url)
        if not caller.permits("s3:ListBucket", f"arn:aws:s3:::{bucket}"):
            error = S3ClientError("AccessDenied", "Access Denied")
            return self.serialized(s3_responses.ActionResult(error))
    return status, response_headers, body


_STATE_MACHINE_ACTIONS = {
    "StartExecution",
    "StartSyncExecution",
    "ListExecutions",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
}
_EXECUTION_ACTIONS = {"DescribeExecution", "GetExecutionHistory", "StopExecution", "RedriveExecution"}


def _stepfunctions_resource(self: Any) -> str:
    """The state machine or execution a Step Functions call names (moto checked ``*``)."""
    action = self._get_action()
    if action in _STATE_MACHINE_ACTIONS:
        return str(self._get_param("stateMachineArn") or "*")
    if action in _EXECUTION_ACTIONS:
        return str(self._get_param("executionArn") or "*")
    return "*"


def _sqs_resource(self: Any) -> str:
    """The queue a call names, whether or not it exists (moto checked ``*`` for a missing queue,
    or for GetQueueUrl's ``QueueName``), so a refusal comes before "no such queue", as in AWS."""
    name = self._get_param("QueueName") or self._get_queue_name()
    return f"arn:aws:sqs:{self.region}:{self.current_account}:{name}" if name else "*"


def _dynamodb_resource(self: Any) -> str:
    """The table a DynamoDB call names (moto checked ``*``, so no table-scoped grant matched)."""
    name = self._get_param("TableName")
    return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{name}" if name else "*"


_original_assume_role = sts_responses.TokenResponse.assume_role


def _assume_role(self: Any) -> Any:
    """AssumeRole's limits: 900 seconds to the role's MaxSessionDuration (one hour when the
    caller is itself a role session), and a session policy of at most 2,048 characters."""
    if is_enforcing():
        duration = self._get_int_param("DurationSeconds", 3600)
        policy = self._get_param("Policy")
        caller: Caller | None = getattr(self, "_filepipe_caller", None)
        try:
            role = iam_backends[self.current_account]["aws"].get_role_by_arn(self._get_param("RoleArn"))
            longest = int(role.max_session_duration or 3600)
        except Exception:
            longest = 3600
        if caller is not None and caller.role_arn is not None:
            if duration > ROLE_CHAINING_MAX_SECONDS:
                limit = "the 1 hour session limit for roles assumed by role chaining"
                raise _RESTError("ValidationError", f"The requested DurationSeconds exceeds {limit}.")
        elif duration > longest:
            raise _RESTError(
                "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if duration < MIN_SESSION_SECONDS:
            raise _RESTError(
                "ValidationError",
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy "
                "constraint: Member must have value greater than or equal to 900",
            )
        if policy and len(policy) > MAX_SESSION_POLICY_CHARS:
            raise _RESTError(
                "ValidationError",
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                "Member must have length less than or equal to 2048",
            )
    return _original_assume_role(self)


def apply() -> None:
    """Install the patches (called once, by ``adapter.apply``)."""
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action  # type: ignore[method-assign]
    s3_responses.ACTION_MAP["KEY"]["HEAD"]["versionId"] = "GetObjectVersion"
    s3_responses.S3Response.key_response = _key_response  # type: ignore[method-assign]
    StepFunctionResponse._determine_resource = _stepfunctions_resource  # type: ignore[attr-defined]
    sqs_responses.SQSResponse._determine_resource = _sqs_resource  # type: ignore[method-assign]
    DynamoHandler._determine_resource = _dynamodb_resource  # type: ignore[attr-defined]
    sts_responses.TokenResponse.assume_role = _assume_role  # type: ignore[method-assign]
