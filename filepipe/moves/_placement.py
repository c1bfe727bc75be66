"""Where one version's copy goes in the archive, so that every version stays in exactly one
current place and the newest version of a key always holds the main name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from filepipe.config import Settings
from filepipe.events import ObjectRef, VersionOrder
from filepipe.moves._locate import META_MODIFIED, META_SEQUENCER, META_SOURCE_ETAG, META_SOURCE_VERSION, same_version
from filepipe.storage import copy_version, head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Placement:
    key: str
    superseded: bool
    """A newer version already holds the main name: this copy goes beside it."""
    done: bool
    """Exactly this version is already there (a duplicate or a retried step)."""


def place(
    s3: S3Client,
    settings: Settings,
    main_key: str,
    superseded_key: Callable[[str], str],
    ref: ObjectRef,
    order: VersionOrder | None = None,
) -> Placement:
    """Decide where ``ref``'s copy goes: ``main_key``, or ``superseded_key(version)`` when a newer
    version holds ``main_key``. When ``ref`` is the newer one, the older copy is first moved
    aside (server-side), so it is not left only as a noncurrent version."""
    current = head(s3, Bucket=settings.archive_bucket, Key=main_key)
    if current is None:
        return Placement(main_key, superseded=False, done=False)
    metadata = current.get("Metadata", {})
    if same_version(metadata, ref):
        return Placement(main_key, superseded=False, done=True)
    held = VersionOrder(metadata.get(META_SEQUENCER) or None, metadata.get(META_MODIFIED) or None)
    if held.is_newer_than(order or VersionOrder(ref.sequencer)):
        return Placement(superseded_key(ref.version_label), superseded=True, done=False)
    older = metadata.get(META_SOURCE_VERSION) or metadata.get(META_SOURCE_ETAG) or "unversioned"
    copy_version(
        s3,
        source_bucket=settings.archive_bucket,
        source_key=main_key,
        source_version=current.get("VersionId"),
        size=int(current.get("ContentLength", 0)),
        bucket=settings.archive_bucket,
        key=superseded_key(older),
        metadata=dict(metadata),
        content_type=str(current.get("ContentType") or "application/octet-stream"),
        multipart_threshold=settings.copy_multipart_threshold,
        part_size=settings.copy_part_size,
    )
    return Placement(main_key, superseded=False, done=False)
