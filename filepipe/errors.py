"""Error classes the state machine retries or not, by name.

Step Functions matches a Lambda error by the exception's class name, so these names are part of
the workflow's contract (see ``state_machine/definition.asl.json``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "OperationAborted",
        "ConditionalRequestConflict",  # S3: a concurrent conditional write; retry it
    }
)


class FilepipeError(Exception):
    """Base of the errors the pipeline raises on purpose."""


class TransientError(FilepipeError):
    """Worth retrying: throttling, 5xx, timeouts, dropped connections."""


class PermanentError(FilepipeError):
    """Retrying cannot help: the input or the configuration is wrong."""


class DeploymentError(PermanentError):
    """The role the code runs with may not make a call it needs: a grant missing from the
    deployment (``filepipe/grants.py``), not a fault of the file. Nothing was moved by the refused
    call; once the stack is fixed, a retry (``filepipe retry`` or ``redrive``) processes the file."""


class UploadRefused(PermanentError):
    """An upload is not what its grant declared (larger, or of another content type)."""


class TransformRejected(PermanentError):
    """The transform refused the file (malformed CSV, unreadable content)."""


class MalformedEvent(PermanentError):
    """An event that is not a well-formed S3 notification."""


ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "403", "Forbidden"})
"""What S3 and the other services answer when the caller's policies do not allow a call (a HEAD
has no body to name its error: botocore reports its status, 403)."""


def is_access_denied(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(exc) in ACCESS_DENIED_CODES or (status == 403 and error_code(exc) not in TRANSIENT_ERROR_CODES)


def is_transient(exc: BaseException) -> bool:
    """Tell throttling, 5xx and network failures from errors that will recur."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError | ConnectTimeoutError):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in TRANSIENT_ERROR_CODES or status >= 500 or status == 429
    return False


def error_code(exc: BaseException) -> str:
    """The service's error code for a ClientError, else the class name."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__


@contextmanager
def classified(what: str) -> Iterator[None]:
    """Re-raise AWS SDK errors as :class:`TransientError` or :class:`PermanentError`.

    The workflow retries by error name, so this is where "retry or not" is decided.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if is_access_denied(exc):
            function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "this job"
            raise DeploymentError(
                f"{error_code(exc)} while {what}: the role of {function} may not make this call "
                f"({exc}). The deployment lacks a grant (filepipe/grants.py); fix the stack, then "
                "retry the file (filepipe retry or redrive)."
            ) from exc
        kind = TransientError if is_transient(exc) else PermanentError
        raise kind(f"{error_code(exc)} while {what}: {exc}") from exc
