"""Who signed a request, and what IAM lets them do: policy evaluation as IAM does it, with a
session's policy narrowing its role's, and the checks AWS makes before it runs a request."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from moto.iam.access_control import AssumedRoleAccessKey, IAMPolicy
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
ROLE_CHAINING_MAX_SECONDS = 3600
MIN_SESSION_SECONDS = 900
MAX_SESSION_POLICY_CHARS = 2048

IAM_ACTIONS = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
"""API operations authorized under another action's name (moto checked the operation's own)."""

RAW_BODY = "filepipe.raw_body"
"""WSGI environ key under which the gateway keeps a form body as sent (moto's parsing consumes it)."""


# -- policy evaluation, as IAM does it -----------------------------------------------------------


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NONE = "none"
    """No statement applies: an implicit deny."""


@functools.lru_cache(maxsize=4096)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def matches(glob: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; nothing else is special.
    Actions compare case-insensitively, resources case-sensitively."""
    return _pattern(glob, case_sensitive).fullmatch(value) is not None


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if any(matches(a, action, False) for a in _listed(statement["NotAction"])):
            return False
    elif not any(matches(a, action, False) for a in _listed(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        return not any(matches(r, resource) for r in _listed(statement["NotResource"]))
    return any(matches(r, resource) for r in _listed(statement.get("Resource")))


CONDITION_OPERATORS = {
    "StringEquals": lambda wanted, value: value == wanted,
    "StringLike": lambda wanted, value: matches(wanted, value),
    "StringEqualsIgnoreCase": lambda wanted, value: value.lower() == wanted.lower(),
}
"""The condition operators modelled; a statement with any other is never an Allow, always a Deny."""


def _condition_holds(condition: dict[str, Any], context: Mapping[str, str]) -> bool | None:
    """True or False when every operator and key of ``condition`` is modelled and the request
    supplies the key (``kms:ViaService`` for a KMS call S3 makes); None when it cannot be told."""
    for operator, tests in condition.items():
        compare = CONDITION_OPERATORS.get(operator)
        if compare is None or not isinstance(tests, dict):
            return None
        for key, wanted in tests.items():
            value = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if value is None:
                return None
            if not any(compare(str(w), value) for w in _listed(wanted)):
                return False
    return True


def evaluate(
    documents: list[dict[str, Any]], action: str, resource: str, context: Mapping[str, str] | None = None
) -> Decision:
    """Explicit deny wins, then any allow. A statement's Condition is evaluated against
    ``context`` where its operators and keys are modelled; one that cannot be told is never an
    allow and always a deny (the safe direction)."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not _applies(statement, action, resource):
                continue
            holds = _condition_holds(statement["Condition"], context or {}) if "Condition" in statement else True
            if statement.get("Effect") == "Deny" and holds is not False:
                return Decision.DENY
            if statement.get("Effect") == "Allow" and holds is True:
                allowed = True
    return Decision.ALLOW if allowed else Decision.NONE


def _document(policy: Any) -> dict[str, Any]:
    """A policy document, whatever form moto keeps it in (inline JSON, a managed policy)."""
    return dict(IAMPolicy(policy)._policy_json)


# -- who signed a request --------------------------------------------------------------------------


class Refused(Exception):
    """A request AWS would refuse before running it: ``status``, ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


_SIGV4_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[^/,\s]+/\d{8}/[^/,\s]+/[^/,\s]+/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9-]+(?:;[a-z0-9-]+)*),\s*Signature=[0-9a-f]{64}"
)
UNSIGNED_AMZ_HEADERS_ALLOWED = frozenset({"x-amz-content-sha256"})
"""The one ``x-amz-*`` header S3 takes unsigned (it says how the payload is signed)."""


def signed_header_names(authorization: str, s3: bool) -> list[str]:
    """The headers an ``Authorization: AWS4-HMAC-SHA256`` header signs; :class:`Refused` as AWS
    refuses a header it cannot read (S3: ``AuthorizationHeaderMalformed``; the others
    ``IncompleteSignature``), or one of another scheme (Signature Version 2 among them)."""
    authorization = authorization.strip()
    if not authorization.startswith("AWS4-HMAC-SHA256"):
        message = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
        raise Refused(400, "InvalidRequest", message)
    parsed = _SIGV4_AUTHORIZATION.fullmatch(authorization)
    if parsed is None:
        raise Refused(
            400,
            "AuthorizationHeaderMalformed" if s3 else "IncompleteSignature",
            "The authorization header is malformed; it requires three components: Credential, SignedHeaders "
            f"and Signature. Authorization={authorization[:200]}",
        )
    return parsed["signed"].split(";")


def check_amz_headers_signed(headers: Any, signed: list[str]) -> None:
    """S3 refuses a request carrying an ``x-amz-*`` header its signature does not cover (user
    metadata, ACLs, encryption, tagging...): what was not signed was not granted."""
    unsigned = sorted(
        name.lower()
        for name, _ in headers.items()
        if name.lower().startswith("x-amz-") and name.lower() not in {*signed, *UNSIGNED_AMZ_HEADERS_ALLOWED}
    )
    if unsigned:
        message = f"There were headers present in the request which were not signed: {', '.join(unsigned)}"
        raise Refused(403, "AccessDenied", message)


class Caller:
    """What the local cloud adds to moto's request classes: the session behind an assumed-role
    key (its expiry, its session policy), AWS's evaluation, and a freshness check."""

    account_id: str
    _access_key: Any
    _action: str
    _headers: Any
    _session: Any = None

    def _find_session(self) -> None:
        if not isinstance(self._access_key, AssumedRoleAccessKey):
            return
        backend = sts_backends[self.account_id]["aws"]
        self._session = next(
            (s for s in backend.assumed_roles if s.access_key_id == self._access_key._access_key_id), None
        )
        if self._session is not None and self._session.expiration <= datetime.now(UTC).replace(tzinfo=None):
            raise Refused(403, "ExpiredToken", "The security token included in the request is expired")

    @property
    def arn(self) -> str:
        return str(self._access_key.arn)

    @property
    def role_arn(self) -> str | None:
        return str(self._session.role_arn) if self._session is not None else None

    def permits(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
        """Whether the identity's policies, narrowed by its session policy, allow ``action``."""
        documents = [_document(p) for p in self._access_key.collect_policies()]
        if evaluate(documents, action, resource, context) is not Decision.ALLOW:
            return False
        policy = getattr(self._session, "policy", None)
        return not policy or evaluate([json.loads(policy)], action, resource, context) is Decision.ALLOW

    def check_signature(self) -> None:
        raise NotImplementedError

    def check_action_permitted(self, resource: str) -> None:
        self.require(IAM_ACTIONS.get(self._action, self._action), resource)

    def require(self, action: str, resource: str) -> None:
        if action.lower() == "sts:getcalleridentity":
            return
        if not self.permits(action, resource):
            raise Refused(
                403, "AccessDenied", f"User: {self.arn} is not authorized to perform: {action} on resource: {resource}"
            )
        if action.lower() == "sts:assumerole" and not self._trusted_by(resource):
            raise Refused(
                403, "AccessDenied", f"User: {self.arn} is not authorized to perform: {action} on resource: {resource}"
            )

    def _trusted_by(self, role_arn: str) -> bool:
        """The role's trust policy names this caller: its ARN, its role (for a session of that
        role, as AWS matches), or the account."""
        try:
            role = iam_backends[self.account_id]["aws"].get_role_by_arn(role_arn)
        except Exception:
            return False
        names = {self.arn, f"arn:aws:iam::{self.account_id}:root", self.account_id}
        if self.role_arn:
            names.add(self.role_arn)
        trust = json.loads(role.assume_role_policy_document)
        for statement in listed_statements(trust):
            if statement.get("Effect") != "Allow" or "Condition" in statement:
                continue
            if not any(matches(a, "sts:AssumeRole", False) for a in _listed(statement.get("Action"))):
                continue
            principal = statement.get("Principal")
            aws = principal.get("AWS") if isinstance(principal, dict) else principal
            if aws == "*" or names & set(_listed(aws)):
                return True
        return False

    def check_freshness(self) -> None:
        """A header-signed request is refused once its date is 15 minutes away from now."""
        stamp = self._headers.get("X-Amz-Date") or ""
        try:
            signed = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Refused(403, "AccessDenied", "The request has no valid X-Amz-Date") from None
        if abs(datetime.now(UTC) - signed) > MAX_CLOCK_SKEW:
            raise Refused(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )


def listed_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def translated(error: Exception) -> Refused:
    """moto's own refusals (unknown key, bad signature, wrong token) as :class:`Refused`."""
    code = getattr(error, "error_type", None) or getattr(error, "code", None) or type(error).__name__
    message = getattr(error, "message", None) or str(error)
    return Refused(403, str(code), str(message))
