"""Fidelity patches for S3: where moto answers otherwise than S3, S3's answer.

Each has a canary in ``tests/local/test_moto_adapter.py``."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote_plus

from moto.core.utils import unix_time
from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications
from moto.s3 import responses as s3_responses

_lock = threading.Lock()
_last_sequencer = 0


def next_sequencer() -> str:
    """A strictly increasing hexadecimal sequencer, like S3's (comparable per key)."""
    global _last_sequencer
    with _lock:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:020X}"


# -- S3 notifications ------------------------------------------------------------------------
# moto's S3 events carry key, size and eTag but no versionId and no sequencer, which AWS sends
# for every ObjectCreated event on a versioned bucket. Without them the pipeline could not
# archive exactly the uploaded version.

_original_get_s3_event = s3_notifications._get_s3_event


def _get_s3_event_with_version(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _original_get_s3_event(event_name, bucket, key, notification_id)
    obj = event["Records"][0]["s3"]["object"]
    version = getattr(key, "version_id", None)
    if version and version != "null":
        obj.setdefault("versionId", version)
    obj.setdefault("sequencer", next_sequencer())
    return event


def _patch_s3_event_versions() -> None:
    s3_notifications._get_s3_event = _get_s3_event_with_version


# -- S3 events through EventBridge ----------------------------------------------------------------
# moto's "Object Created" events for EventBridge carry the key as it is (AWS URL-encodes it, as in
# S3 notifications; Powertools decodes it) and one fixed sequencer for every event (AWS's grows
# per key). Keys with "+" or "%" would be misread, and versions of one key could not be ordered.

_original_send_event_bridge_message = s3_notifications._send_event_bridge_message


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    try:
        from moto.events.models import events_backends
    except ImportError:  # pragma: no cover - moto[server] brings events
        return
    name = str(getattr(event_name, "value", event_name))
    version = getattr(key, "version_id", None)
    detail_object = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "etag": str(key.etag).strip('"'),
        "sequencer": next_sequencer(),
    }
    if version and version != "null":
        detail_object["version-id"] = version
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),  # moto's EventBridge formats it on delivery
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "reason": name.split(":")[1] if ":" in name else name,
        },
    }
    backend = events_backends[account_id][bucket.region_name]
    for event_bus in backend.event_buses.values():
        for rule in event_bus.rules.values():
            with contextlib.suppress(Exception):  # asynchronous in AWS: a failed delivery never fails the PUT
                rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]


def _patch_eventbridge_s3_events() -> None:
    s3_notifications._send_event_bridge_message = _send_event_bridge_message


# -- S3 CopyObject of a multipart object ------------------------------------------------------
# A multipart upload with checksums gets a COMPOSITE checksum ("…-3"); moto's CopyObject copies
# its value but not its type and part count, so the copy answers GETs with a bare composite value
# that botocore then validates as a full-object checksum and rejects. S3 never does that.

_original_copy_object = s3_models.S3Backend.copy_object


def _copy_object_keeping_checksum_type(
    self: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str, *args: Any, **kwargs: Any
) -> Any:
    result = _original_copy_object(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
    if getattr(src_key, "checksum_value", None):
        copied = self.get_object(dest_bucket_name, dest_key_name)
        if copied is not None:
            copied.checksum_type = src_key.checksum_type
            copied.checksum_parts = src_key.checksum_parts
    return result


def _patch_copy_checksum_type() -> None:
    s3_models.S3Backend.copy_object = _copy_object_keeping_checksum_type  # type: ignore[method-assign]


# S3 copies only when the destination key has no current version if the request says
# ``If-None-Match: *`` (412 PreconditionFailed otherwise), as PutObject does; moto honours it on
# PutObject and CompleteMultipartUpload but copies over the key regardless.

_original_copy_object_response = s3_responses.S3Response.copy_object


def _copy_object_if_none_match(self: Any) -> Any:
    if self.headers.get("If-None-Match") == "*" and self.backend.get_object(self.bucket_name, self.parse_key_name()):
        raise s3_responses.PreconditionFailed("If-None-Match")
    return _original_copy_object_response(self)


def _patch_copy_if_none_match() -> None:
    s3_responses.S3Response.copy_object = _copy_object_if_none_match  # type: ignore[method-assign]


# -- S3 requests moto cannot read ----------------------------------------------------------------
# moto trusts what S3 checks first: a method an object or bucket does not take (POST on an object
# with no subresource S3 knows) has no entry in its action table; an integer parameter that is
# not one (``max-keys=abc``, a negative one, ``partNumber=x``) goes to int() or indexes a list;
# an ACL header naming no canned ACL, or a grant header it cannot parse, fails an assertion; a
# Range with no ``=`` is split on it (S3 ignores a Range it cannot read, as moto does others); a
# presigned GET's ``response-content-type`` (or another override) holding CR or LF became a
# header no server may send; completing an upload ID that does not exist is a KeyError, and a
# continuation token it never issued a TypeError. Each was a 500 where S3 answers 405
# MethodNotAllowed, 400 InvalidArgument or 404 NoSuchUpload.

_original_set_action = s3_responses.S3Response._set_action
_original_acl_from_headers = s3_responses.S3Response._acl_from_headers
_INTEGER_PARAMETERS = ("max-keys", "max-uploads", "max-parts", "part-number-marker", "partNumber")


def _set_action(self: Any, resource_type: str, method: str, querystring: dict[str, Any]) -> None:
    actions = s3_responses.ACTION_MAP[resource_type][method]
    if "DEFAULT" not in actions and not any(name in querystring for name in actions):
        raise s3_exceptions.MethodNotAllowed(method, resource_type)
    for name in _INTEGER_PARAMETERS:
        value = str(querystring.get(name, ["0"])[0])
        if not value.isdigit() or int(value) > 2**31 - 1:
            raise s3_exceptions.NotAnIntegerException(name, value)  # type: ignore[arg-type]
    number = querystring.get("partNumber", ["1"])[0] if method in ("GET", "HEAD") else "1"
    if not 1 <= int(number) <= 10_000:
        raise s3_exceptions.InvalidMaxPartNumberArgument(number)  # type: ignore[arg-type]
    for name, values in querystring.items():
        if str(name).startswith("response-") and any(ord(c) < 32 or ord(c) == 127 for c in str(values[0])):
            raise s3_exceptions.S3ClientError("InvalidArgument", f"{name} may not hold control characters")
    _original_set_action(self, resource_type, method, querystring)


def _acl_from_headers(self: Any, headers: Any) -> Any:
    try:
        return _original_acl_from_headers(self, headers)
    except (AssertionError, KeyError, AttributeError):  # an unknown canned ACL, grant kind or grantee
        raise s3_exceptions.S3ClientError("InvalidArgument", "The ACL or grant headers are not valid") from None


_original_handle_range_header = s3_responses.S3Response._handle_range_header


def _handle_range_header(self: Any, request: Any, response_headers: Any, response_content: Any) -> Any:
    if str(request.headers.get("range", "")).count("=") != 1:  # S3 ignores a Range it cannot read
        return 200, response_headers, response_content
    return _original_handle_range_header(self, request, response_headers, response_content)


_original_complete_multipart_upload = s3_models.S3Backend.complete_multipart_upload


def _complete_multipart_upload(self: Any, bucket_name: str, multipart_id: str, *args: Any) -> Any:
    if multipart_id not in self.get_bucket(bucket_name).multiparts:  # moto: a KeyError
        raise s3_exceptions.NoSuchUpload(upload_id=multipart_id)
    return _original_complete_multipart_upload(self, bucket_name, multipart_id, *args)


_original_results_from_token = s3_models.S3Backend._get_results_from_token


def _results_from_token(self: Any, result_keys: Any, token: Any) -> Any:
    if token is None:  # a continuation token moto never issued: it compared the keys with None
        raise s3_exceptions.S3ClientError("InvalidArgument", "The continuation token provided is incorrect")
    return _original_results_from_token(self, result_keys, token)


def _patch_request_checks() -> None:
    s3_responses.S3Response._set_action = _set_action  # type: ignore[method-assign, assignment]
    s3_responses.S3Response._acl_from_headers = _acl_from_headers  # type: ignore[method-assign]
    s3_responses.S3Response._handle_range_header = _handle_range_header  # type: ignore[method-assign]
    s3_models.S3Backend.complete_multipart_upload = _complete_multipart_upload  # type: ignore[method-assign, assignment]
    s3_models.S3Backend._get_results_from_token = _results_from_token  # type: ignore[method-assign]


def apply() -> None:
    _patch_s3_event_versions()
    _patch_eventbridge_s3_events()
    _patch_copy_checksum_type()
    _patch_copy_if_none_match()
    _patch_request_checks()
