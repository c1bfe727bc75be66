"""Find where one object version is now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from filepipe.config import Settings, key_metadata
from filepipe.events import ObjectRef, VersionOrder
from filepipe.storage import PartialCopy, copy_version, head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

META_SOURCE_VERSION = "filepipe-source-version"
META_SOURCE_ETAG = "filepipe-source-etag"
META_SEQUENCER = "filepipe-sequencer"
META_MODIFIED = "filepipe-source-modified"
"""The version's Last-Modified in staging: its place in the key's history (``VersionOrder``)."""


@dataclass(frozen=True)
class Source:
    """The bytes of one object version, wherever they are now."""

    where: Literal["staging", "failed"]
    bucket: str
    key: str
    version_id: str | None
    size: int
    content_type: str
    metadata: dict[str, str]
    modified: str | None = None
    """Its Last-Modified in staging (ISO 8601), wherever it is now."""

    def order(self, ref: ObjectRef) -> VersionOrder:
        """Where ``ref``'s version (this one) stands in its key's history."""
        return VersionOrder(ref.sequencer, self.modified)


def provenance(ref: ObjectRef, execution: str | None, modified: str | None = None) -> dict[str, str]:
    """The metadata every object the pipeline writes carries: what it came from (and, with
    ``modified``, where that version stands in its key's history)."""
    meta = {
        "filepipe-source-bucket": ref.bucket,
        META_SOURCE_VERSION: ref.version_id or "",
        META_SOURCE_ETAG: ref.etag or "",
        META_SEQUENCER: ref.sequencer or "",
        "filepipe-key": key_metadata(ref.key),
    }
    if execution:
        meta["filepipe-execution"] = execution.rsplit(":", 1)[-1]
    if modified:
        meta[META_MODIFIED] = modified
    return meta


def copy_into_archive(
    s3: S3Client,
    source: Source,
    ref: ObjectRef,
    settings: Settings,
    key: str,
    execution: str | None,
    stop_by: float | None = None,
    resume: PartialCopy | None = None,
) -> PartialCopy | None:
    """Server-side copy of ``source`` to ``key`` in the archive bucket, with ``ref``'s provenance;
    the copy still under way when ``stop_by`` came (see :func:`filepipe.storage.copy_version`)."""
    copied = copy_version(
        s3,
        source_bucket=source.bucket,
        source_key=source.key,
        source_version=source.version_id,
        size=source.size,
        bucket=settings.archive_bucket,
        key=key,
        metadata=provenance(ref, execution, source.modified),
        content_type=source.content_type,
        multipart_threshold=settings.copy_multipart_threshold,
        part_size=settings.copy_part_size,
        stop_by=stop_by,
        resume=resume,
    )
    return copied if isinstance(copied, PartialCopy) else None


def same_version(metadata: dict[str, str], ref: ObjectRef) -> bool:
    """Whether an archived or failed copy was made from exactly ``ref``'s version."""
    if ref.version_id:
        return metadata.get(META_SOURCE_VERSION) == ref.version_id
    return bool(ref.etag) and metadata.get(META_SOURCE_ETAG) == ref.etag


def locate(s3: S3Client, ref: ObjectRef, settings: Settings) -> Source | None:
    """The original of ``ref``: in staging, else its copy in the failure prefix, else None."""
    params: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id:
        params["VersionId"] = ref.version_id
    elif ref.etag:
        params["IfMatch"] = ref.etag
    found = head(s3, **params)
    if found is not None:
        return _source("staging", ref.bucket, ref.key, found, ref.version_id)
    return _locate_failed_copy(s3, ref, settings)


def _locate_failed_copy(s3: S3Client, ref: ObjectRef, settings: Settings) -> Source | None:
    key = settings.layout.failed_copy(ref.key)
    found = head(s3, Bucket=settings.archive_bucket, Key=key)
    if found is not None and same_version(found.get("Metadata", {}), ref):
        return _source("failed", settings.archive_bucket, key, found, found.get("VersionId"))
    # A later failure of another version of the key may have covered ours: look in the history.
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=settings.archive_bucket, Prefix=key)
    for page in pages:
        for version in page.get("Versions", []):
            if version["Key"] != key or (found and version["VersionId"] == found.get("VersionId")):
                continue
            older = head(s3, Bucket=settings.archive_bucket, Key=key, VersionId=version["VersionId"])
            if older is not None and same_version(older.get("Metadata", {}), ref):
                return _source("failed", settings.archive_bucket, key, older, version["VersionId"])
    return None


def _source(
    where: Literal["staging", "failed"], bucket: str, key: str, found: dict[str, Any], version: str | None
) -> Source:
    return Source(
        where=where,
        bucket=bucket,
        key=key,
        version_id=version or found.get("VersionId"),
        size=int(found.get("ContentLength", 0)),
        content_type=str(found.get("ContentType") or "application/octet-stream"),
        metadata=dict(found.get("Metadata", {})),
        modified=_modified(where, found),
    )


def _modified(where: str, found: dict[str, Any]) -> str | None:
    """A staging version's own Last-Modified; a failed copy's says when it was copied, so its
    original's is read from the metadata the copy was made with."""
    if where == "failed":
        return found.get("Metadata", {}).get(META_MODIFIED)
    stamp = found.get("LastModified")
    return stamp.astimezone(UTC).isoformat(timespec="seconds") if isinstance(stamp, datetime) else None
