"""AWS's quotas, applied where moto applies none (fidelity patches; canaries in
``tests/local/test_moto_adapter.py``).

The figures are AWS's current ones (quota pages read December 2026; several rose in 2025-2026).
Each limit is a module constant so a test can lower it to reach it with small data; the patches
read them at call time.

Held here:
- Step Functions: execution names (1-80 characters, none of AWS's excluded ones): moto's newer
  engine skips the check its older backend makes; a Map state's collected results count toward
  the 256 KiB state limit before ``ResultPath`` discards them (moto checks only the state's
  final output, so a ``ResultPath: null`` Map of any size passed).
- S3: a single PUT and a part of at most 5 GiB (``EntityTooLarge``), a CopyObject source of at
  most 5 GiB (``InvalidRequest``), keys of at most 1,024 bytes (``KeyTooLongError``), user
  metadata of at most 2 KB (``MetadataTooLarge``). moto checks none; it already refuses part
  numbers over 10,000 and parts under 5 MiB but the last (canaries show both still hold).
- EventBridge: PutEvents entries of at most 1 MiB together (moto: no limit). SQS's 1 MiB
  messages moto already holds (canary).

Lambda's 6 MB synchronous request and response are the local Lambda's (``gateway.py``), with
these figures.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events import models as events_models
from moto.events.exceptions import ValidationException as EventsValidationException
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import S3ClientError
from moto.stepfunctions.exceptions import NameTooLongException
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map as sfn_state_map
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from filepipe.storage import GiB, KiB, MiB

# Step Functions (https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html)
MAX_STATE_PAYLOAD = 256 * KiB
"""A state's input, output or result, and an execution's input, as UTF-8 JSON."""
MAX_EXECUTION_NAME = 80
MAX_HISTORY_EVENTS = 25_000
"""An execution's history: past it the execution fails (not enforced locally; see the README)."""
# Lambda (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
MAX_SYNC_PAYLOAD = 6 * MiB
"""A synchronous invocation's request, and its response."""
MAX_RESPONSE_REPORTED = 6291556
"""The response limit as Lambda applies and words it (``Function.ResponseSizeTooLarge``): 100
bytes past 6 MiB."""
# S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)
MAX_PART_NUMBER = 10_000
"""moto refuses part numbers past 10,000 itself (canary); the constant lets a test lower it."""
MAX_SINGLE_PUT = 5 * GiB
MAX_PART = 5 * GiB
MAX_COPY_SOURCE = 5 * GiB
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2 * KiB
"""User-defined metadata: the UTF-8 bytes of every key (without ``x-amz-meta-``) and value."""
# SQS and EventBridge (raised from 256 KiB in 2025 and January 2026)
MAX_SQS_MESSAGE = 1 * MiB
MAX_EVENTS_ENTRIES = 1 * MiB


# -- Step Functions: execution names --------------------------------------------------------------

_original_start_execution: Any = None
"""What answered StartExecution before (the Express patch's, which wraps moto's)."""


def _start_execution_with_a_valid_name(self: Any, state_machine_arn: str, name: Any = None, *args: Any) -> Any:
    if name is not None:
        if len(name) > MAX_EXECUTION_NAME:
            raise NameTooLongException(name)
        StepFunctionBackend._validate_name(self, name)
    return _original_start_execution(self, state_machine_arn, name, *args)


# -- Step Functions: a Map's collected results ------------------------------------------------------

_original_map_execution = sfn_state_map.StateMap._eval_execution


def _map_execution_within_the_state_limit(self: Any, env: Any) -> None:
    """The Map's result is on the stack once its iterations end (before ``ResultPath``): with a
    ``ResultWriter`` it is the writer's details, else every child's output, which must fit."""
    _original_map_execution(self, env)
    if self.result_writer is None and env.stack:
        size = len(json.dumps(env.stack[-1], separators=(",", ":"), default=str).encode("utf-8"))
        if size > MAX_STATE_PAYLOAD:
            error = StatesErrorNameType.StatesStatesDataLimitExceeded
            cause = (
                f"The state/task '{self.name}' returned a result with a size exceeding the maximum number of bytes "
                f"service limit ({size} bytes collected from its iterations; write them to S3 with a ResultWriter)."
            )
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=error),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                        executionFailedEventDetails=ExecutionFailedEventDetails(error=error.to_name(), cause=cause)
                    ),
                )
            )


# -- S3 -------------------------------------------------------------------------------------------


class _S3LimitError(S3ClientError):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(code, message)
        self.details = details


_META = "x-amz-meta-"


def _check_key_and_metadata(key_name: str, headers: Any) -> None:
    if len(key_name.encode("utf-8")) > MAX_KEY_BYTES:
        raise _S3LimitError("KeyTooLongError", "Your key is too long")
    size = sum(
        len(str(name)[len(_META) :].encode("utf-8")) + len(str(value).encode("utf-8"))
        for name, value in headers.items()
        if str(name).lower().startswith(_META)
    )
    if size > MAX_METADATA_BYTES:
        raise _S3LimitError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size")


def _too_large() -> _S3LimitError:
    return _S3LimitError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")


_original_put_object = s3_responses.S3Response.put_object
_original_upload_part = s3_responses.S3Response.upload_part
_original_copy_object: Any = None
"""CopyObject as answered before (the conditional-copy patch's, which wraps moto's)."""
_original_upload_part_copy = s3_responses.S3Response.upload_part_copy
_original_key_response_post = s3_responses.S3Response._key_response_post


def _put_object(self: Any) -> Any:
    _check_key_and_metadata(self.parse_key_name(), self.headers)
    if len(self.body or b"") > MAX_SINGLE_PUT:
        raise _too_large()
    return _original_put_object(self)


def _check_part_number(self: Any) -> None:
    number = self._get_int_param("partNumber")
    if not 1 <= number <= MAX_PART_NUMBER:
        raise _S3LimitError(
            "InvalidArgument", f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        )


def _upload_part(self: Any) -> Any:
    _check_part_number(self)
    if len(self.body or b"") > MAX_PART:
        raise _too_large()
    return _original_upload_part(self)


def _copy_source_size(self: Any) -> int:
    from urllib.parse import parse_qs, unquote, urlparse

    source = self.headers.get("x-amz-copy-source", "")
    parsed = urlparse(source if isinstance(source, str) else source.decode("utf-8"))
    bucket, slash, key = unquote(parsed.path).lstrip("/").partition("/")
    if not (bucket and slash and key):
        message = "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
        raise _S3LimitError("InvalidArgument", message)
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    found = self.backend.get_object(bucket, key, version_id=version)
    return int(found.size) if found is not None else 0


def _copy_object(self: Any) -> Any:
    if self.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE":
        _check_key_and_metadata(self.parse_key_name(), self.headers)
    elif len(self.parse_key_name().encode("utf-8")) > MAX_KEY_BYTES:
        raise _S3LimitError("KeyTooLongError", "Your key is too long")
    if _copy_source_size(self) > MAX_COPY_SOURCE:
        raise _S3LimitError(
            "InvalidRequest",
            f"The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY_SOURCE}",
        )
    return _original_copy_object(self)


def _upload_part_copy(self: Any) -> Any:
    _check_part_number(self)
    window = self.headers.get("x-amz-copy-source-range", "").split("bytes=")[-1]
    try:
        first, last = (int(n) for n in window.split("-"))
        size = last - first + 1
    except ValueError:
        size = _copy_source_size(self)
    if size > MAX_PART:
        raise _too_large()
    return _original_upload_part_copy(self)


def _key_response_post(self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str) -> Any:
    if body == b"" and "uploads" in query:
        _check_key_and_metadata(key_name, request.headers)
    return _original_key_response_post(self, request, body, bucket_name, query, key_name)


# -- EventBridge ----------------------------------------------------------------------------------

_original_put_events = events_models.EventsBackend.put_events


def entry_size(entry: dict[str, Any]) -> int:
    """An event entry's size as EventBridge counts it ("Calculating PutEvents event entry size")."""
    size = 14 if entry.get("Time") else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    size += sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or [])
    return size


def _put_events(self: Any, events: list[dict[str, Any]]) -> Any:
    if sum(entry_size(e) for e in events) > MAX_EVENTS_ENTRIES:
        raise EventsValidationException("Total size of the entries in the request is over the limit.")
    return _original_put_events(self, events)


def apply() -> None:
    """After the other fidelity patches: two of these wrap theirs."""
    global _original_start_execution, _original_copy_object
    _original_start_execution = StepFunctionsParserBackend.start_execution
    _original_copy_object = s3_responses.S3Response.copy_object
    StepFunctionsParserBackend.start_execution = _start_execution_with_a_valid_name  # type: ignore[method-assign, assignment]
    sfn_state_map.StateMap._eval_execution = _map_execution_within_the_state_limit  # type: ignore[method-assign]
    s3_responses.S3Response.put_object = _put_object  # type: ignore[method-assign]
    s3_responses.S3Response.upload_part = _upload_part  # type: ignore[method-assign]
    s3_responses.S3Response.copy_object = _copy_object  # type: ignore[method-assign]
    s3_responses.S3Response.upload_part_copy = _upload_part_copy  # type: ignore[method-assign]
    s3_responses.S3Response._key_response_post = _key_response_post  # type: ignore[method-assign]
    events_models.EventsBackend.put_events = _put_events  # type: ignore[method-assign]
