"""Parse the envelopes S3 notifications arrive in.

Four shapes reach the trigger: an SQS message whose body is an S3 notification (the deployed
path), the same inside an SNS envelope (a bucket's events fanned out through a topic, without
raw message delivery), a plain S3 notification (direct invocation), and an EventBridge "Object
Created" event.
Keys are URL-encoded by S3 (``+`` for space, percent-escapes of UTF-8) and are decoded once,
here: explicitly for S3 records (Powertools' ``S3Object.key`` returns the raw key), by
Powertools' ``S3EventBridgeNotificationObject.key`` for EventBridge events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, SQSEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent

from filepipe.errors import MalformedEvent
from filepipe.events._ref import ObjectRef


@dataclass(frozen=True)
class Notification:
    """The object versions one notification announces, and what it deliberately skipped."""

    refs: list[ObjectRef] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SqsMessage:
    """One SQS record: its id (for batch item failures) and its body, still unparsed."""

    message_id: str
    body: str


def parse_sqs_event(event: Mapping[str, Any]) -> list[SqsMessage]:
    """The messages of an SQS batch event, every one of them."""
    return [SqsMessage(message_id=r.message_id, body=r.body) for r in SQSEvent(dict(event)).records]


def parse_notification(payload: Any) -> Notification:
    """Turn one S3 or EventBridge notification into object references.

    Raises :class:`MalformedEvent` for anything that is not a notification this pipeline knows.
    """
    if not isinstance(payload, Mapping):
        raise MalformedEvent(f"notification must be a JSON object, got {type(payload).__name__}")
    if payload.get("Type") == "Notification" and "TopicArn" in payload:
        return parse_notification(_sns_message(payload))
    if payload.get("Event") == "s3:TestEvent":
        return Notification(ignored=["s3:TestEvent"])
    if "Records" in payload:
        return _parse_s3_records(payload)
    if payload.get("source") == "aws.s3" and "detail" in payload:
        return _parse_eventbridge(payload)
    raise MalformedEvent(f"not an S3 or EventBridge notification: keys {sorted(payload)[:10]}")


def _parse_s3_records(payload: Mapping[str, Any]) -> Notification:
    records = payload["Records"]
    if not isinstance(records, list) or not records:
        raise MalformedEvent("'Records' must be a non-empty list")
    refs: list[ObjectRef] = []
    ignored: list[str] = []
    for record in S3Event(dict(payload)).records:
        try:
            source, name = record.event_source, record.event_name
            if source != "aws:s3":
                raise MalformedEvent(f"record from {source!r}, expected 'aws:s3'")
            obj = record.s3.get_object
            if not name.startswith("ObjectCreated:"):
                ignored.append(f"{name} {obj.key}")
                continue
            refs.append(
                ObjectRef(
                    bucket=record.s3.bucket.name,
                    key=unquote_plus(obj.key),
                    version_id=obj.version_id or None,
                    etag=_etag(obj.get("eTag")),
                    size=int(obj.get("size") or 0),
                    sequencer=obj.get("sequencer"),
                    event_time=record.event_time,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent(f"malformed S3 record: {exc!r}") from exc
    return Notification(refs=refs, ignored=ignored)


def _parse_eventbridge(payload: Mapping[str, Any]) -> Notification:
    event = S3EventBridgeNotificationEvent(dict(payload))
    if event.detail_type != "Object Created":
        return Notification(ignored=[f"EventBridge {event.detail_type!r}"])
    try:
        obj = event.detail.object
        ref = ObjectRef(
            bucket=event.detail.bucket.name,
            key=obj.key,
            version_id=obj.get("version-id") or None,
            etag=_etag(obj.get("etag")),
            size=int(obj.get("size") or 0),
            sequencer=obj.get("sequencer"),
            event_time=event.time,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"malformed EventBridge S3 event: {exc!r}") from exc
    return Notification(refs=[ref])


def _sns_message(envelope: Mapping[str, Any]) -> Any:
    """The message an SNS envelope carries (the S3 notification, as a JSON string)."""
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise MalformedEvent("SNS envelope without a Message string")
    try:
        return json.loads(message)
    except ValueError as exc:
        raise MalformedEvent(f"the SNS message is not JSON: {exc}") from exc


def _etag(value: Any) -> str | None:
    return str(value).strip('"') or None if value else None


def load_body(body: str) -> Any:
    """Decode an SQS body as JSON, as a :class:`MalformedEvent` when it is not."""
    try:
        return json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"SQS body is not JSON: {exc}") from exc
