"""The object reference: the only thing that travels through the state machine."""

from __future__ import annotations

from dataclasses import dataclass
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
