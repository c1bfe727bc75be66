"""The failure record: what went wrong with one object version (``errors/<key>.json``), and,
once a newer version of its key is archived, how it was resolved (``resolved/<key>.json``).

One writer (the failure move) and every reader go through :class:`FailureRecord`; its JSON keeps
the state input's field names (``bucket``, ``key``, ``versionId``, ...), so a record is also the
input that retries its file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.storage import read_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Resolution:
    """Which newer version resolved a failure, and where the failed original was kept."""

    by: str | None
    sequencer: str | None
    time: str
    original: str | None

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "sequencer": self.sequencer, "time": self.time, "original": self.original}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resolution:
        return cls(data.get("by"), data.get("sequencer"), str(data.get("time") or ""), data.get("original"))


@dataclass(frozen=True)
class FailureRecord:
    ref: ObjectRef
    error: str
    """The name the execution failed with (``TransformRejected``, ``States.Timeout``, ...)."""
    cause: Any
    """The error's cause: structured (a Lambda's ``errorMessage``/``errorType``) where it was."""
    attempts: int
    """How many processings of this version failed."""
    failed_key: str
    time: str
    execution: str | None = None
    history: str | None = None
    """Where the execution's history is (an Express one's is in CloudWatch Logs)."""
    modified: str | None = None
    """The failed version's Last-Modified in staging: its place in the key's history."""
    resolved: Resolution | None = None

    def describes(self, ref: ObjectRef) -> bool:
        """Whether this record is about ``ref``'s version (not another version of its key)."""
        if ref.version_id:
            return self.ref.version_id == ref.version_id
        return self.ref.etag == ref.etag

    def resolved_by(self, resolution: Resolution) -> FailureRecord:
        return replace(self, resolved=resolution)

    @property
    def message(self) -> str | None:
        """The cause's own message, where it has one."""
        message = self.cause.get("errorMessage") if isinstance(self.cause, dict) else None
        return message if isinstance(message, str) else None

    def to_json(self) -> dict[str, Any]:
        ref = self.ref
        data: dict[str, Any] = {
            "bucket": ref.bucket,
            "key": ref.key,
            "versionId": ref.version_id,
            "etag": ref.etag,
            "sequencer": ref.sequencer,
            "size": ref.size,
            "error": self.error,
            "cause": self.cause,
            "execution": self.execution,
            "history": self.history,
            "attempts": self.attempts,
            "failedKey": self.failed_key,
            "time": self.time,
            "sourceModified": self.modified,
        }
        if self.resolved is not None:
            data["resolved"] = self.resolved.to_json()
        return data

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FailureRecord:
        resolved = data.get("resolved")
        return cls(
            ref=ObjectRef.from_state(dict(data)),
            error=str(data.get("error") or "Unknown"),
            cause=data.get("cause"),
            attempts=int(data.get("attempts") or 1),
            failed_key=str(data.get("failedKey") or ""),
            time=str(data.get("time") or ""),
            execution=data.get("execution"),
            history=data.get("history"),
            modified=data.get("sourceModified"),
            resolved=Resolution.from_json(resolved) if isinstance(resolved, Mapping) else None,
        )


def read_record(s3: S3Client, bucket: str, key: str) -> FailureRecord | None:
    """The record at ``key``, or None when there is none."""
    data = read_json(s3, bucket, key)
    return FailureRecord.from_json(data) if data is not None else None


def read_error_record(s3: S3Client, ref: ObjectRef, settings: Settings) -> FailureRecord | None:
    """The key's error record when it is about ``ref``'s version, else None."""
    record = read_record(s3, settings.archive_bucket, settings.layout.error_record(ref.key))
    return record if record is not None and record.describes(ref) else None


def write_record(s3: S3Client, bucket: str, key: str, record: FailureRecord, metadata: dict[str, str]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=record.encode(), ContentType="application/json", Metadata=metadata)
