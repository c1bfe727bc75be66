"""The object reference: the only thing that travels through the state machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ObjectRef:
    """One version of one uploaded object; ``key`` is already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = 0
    sequencer: str | None = None
    event_time: str | None = None

    @property
    def version_label(self) -> str:
        """What names this version in archive keys: its version ID, else its ETag."""
        return self.version_id or self.etag or "unversioned"

    def to_state(self) -> dict[str, Any]:
        """The state machine's input (DESIGN.md: bucket, key, versionId, etag, size, ...)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "sequencer": self.sequencer,
            "eventTime": self.event_time,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ObjectRef:
        """Read a state input back; extra fields (results, errors) are ignored."""
        try:
            bucket, key = state["bucket"], state["key"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"state input needs 'bucket' and 'key', got {state!r}") from exc
        if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
            raise ValueError(f"'bucket' and 'key' must be non-empty strings, got {bucket!r}, {key!r}")
        return cls(
            bucket=bucket,
            key=key,
            version_id=state.get("versionId") or None,
            etag=(state.get("etag") or "").strip('"') or None,
            size=int(state.get("size") or 0),
            sequencer=state.get("sequencer") or None,
            event_time=state.get("eventTime") or None,
        )


@dataclass(frozen=True)
class VersionOrder:
    """Where one version stands in its key's history in staging: S3's sequencer, when an event
    announced the version, and its Last-Modified in staging (read by HEAD, so always known, even
    for a version a backfill or the sweep started without an event).

    A newer version holds a key's main name in the archive. Two sequencers are compared (S3
    orders a key's events by them); otherwise the Last-Modified times are, when they differ (S3's
    clock, one-second steps). Within one second with a sequencer on one side only, the version
    an event announced counts as the newer: a backfill or the sweep starts the version that was
    current when it listed, so a version uploaded in the same second and announced by an event
    came after it, unless both landed in that second, which only their sequencers could tell.
    """

    sequencer: str | None = None
    modified: str | None = None
    """ISO 8601, UTC."""

    def is_newer_than(self, other: VersionOrder) -> bool:
        if self.sequencer and other.sequencer:
            return sequencer_is_newer(self.sequencer, other.sequencer)
        mine, theirs = _instant(self.modified), _instant(other.modified)
        if mine is not None and theirs is not None and mine != theirs:
            return mine > theirs
        return sequencer_is_newer(self.sequencer, other.sequencer)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).replace(microsecond=0)


def sequencer_is_newer(candidate: str | None, current: str | None) -> bool:
    """True when ``candidate`` is a later event for the same key than ``current``.

    S3 sequencers are hexadecimal strings of varying length, comparable only for one key;
    compared as numbers, which is what padding the shorter with leading zeros amounts to.
    A missing sequencer is older than any present one.
    """
    if not candidate:
        return False
    if not current:
        return True
    return int(candidate, 16) > int(current, 16)
