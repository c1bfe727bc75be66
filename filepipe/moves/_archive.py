"""Archive: the processed version, copied server-side into the archive, then removed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from filepipe.config import Settings
from filepipe.events import ObjectRef, VersionOrder
from filepipe.moves._locate import Source, copy_into_archive, locate, same_version
from filepipe.moves._placement import place
from filepipe.moves._record import Resolution, read_error_record, read_record, write_record
from filepipe.storage import PartialCopy, copy_version, head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ArchiveOutcome:
    """``archived``: at ``location``; ``superseded``: a newer version already held
    ``originals/<key>``, so this one went beside it; ``resolved``: this version had failed and a
    newer one, since archived, resolved it (``location`` is the record saying so), so nothing is
    moved (a retry of a resolved failure ends here); ``gone``: nothing to move; ``copying``: a
    copy in parts to ``location`` is under way, and the step runs again with ``copy``."""

    status: Literal["archived", "superseded", "resolved", "gone", "copying"]
    location: str | None
    resolved: str | None = None
    """The record of an older version's failure this version resolved (``resolved/<key>.json``)."""
    copy: dict[str, Any] | None = None
    """While ``copying``: the :class:`~filepipe.storage.PartialCopy`, and what it ends as."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive(
    s3: S3Client,
    ref: ObjectRef,
    settings: Settings,
    execution: str | None = None,
    stop_by: float | None = None,
    copying: dict[str, Any] | None = None,
) -> ArchiveOutcome:
    """Copy exactly ``ref``'s version to the archive, then delete exactly that version.

    Idempotent: when a duplicate execution already copied it, only the delete is left to do;
    when the version is gone from staging and the failure prefix, nothing moves. A copy in parts
    stops at ``stop_by`` (``copying`` outcome) and goes on when called again with its ``copy``.
    """
    source = locate(s3, ref, settings)
    layout = settings.layout
    partial = PartialCopy.from_json(copying["partial"]) if copying else None
    if source is None:
        if partial is not None:
            s3.abort_multipart_upload(Bucket=partial.bucket, Key=partial.key, UploadId=partial.upload_id)
        done = head(s3, Bucket=settings.archive_bucket, Key=layout.original(ref.key))
        if done is not None and same_version(done.get("Metadata", {}), ref):
            return ArchiveOutcome("archived", layout.original(ref.key))
        resolution = read_record(s3, settings.archive_bucket, layout.resolved_record(ref.key))
        if resolution is not None and resolution.describes(ref) and resolution.resolved is not None:
            return ArchiveOutcome("resolved", layout.resolved_record(ref.key))
        return ArchiveOutcome("gone", None)

    status: Literal["archived", "superseded"]
    if copying is not None and partial is not None:
        destination, status = partial.key, copying["then"]
        partial = copy_into_archive(s3, source, ref, settings, destination, execution, stop_by, partial)
    else:
        placement = place(
            s3,
            settings,
            layout.original(ref.key),
            lambda version: layout.superseded_original(ref.key, version),
            ref,
            source.order(ref),
        )
        destination = placement.key
        status = "superseded" if placement.superseded else "archived"
        if not placement.done:
            partial = copy_into_archive(s3, source, ref, settings, destination, execution, stop_by)
    if partial is not None:
        return ArchiveOutcome("copying", destination, copy={"partial": partial.to_json(), "then": status})
    remove_source(s3, source, ref, settings)
    resolved = resolve_earlier_failure(s3, ref, settings, order=source.order(ref)) if status == "archived" else None
    return ArchiveOutcome(status, destination, resolved)


def resolve_earlier_failure(
    s3: S3Client, ref: ObjectRef, settings: Settings, now: datetime | None = None, order: VersionOrder | None = None
) -> str | None:
    """A newer version of a key that failed is archived: the failure is resolved. Its copy
    leaves the failure prefix for ``superseded/<key>/<version>/original`` (kept, never deleted),
    and its record moves to ``resolved/<key>.json`` saying which version resolved it, so
    ``redrive`` no longer retries it."""
    layout = settings.layout
    record = read_record(s3, settings.archive_bucket, layout.error_record(ref.key))
    if record is None or record.ref.version_id == ref.version_id:
        return None
    failed = record.ref
    if not (order or VersionOrder(ref.sequencer)).is_newer_than(VersionOrder(failed.sequencer, record.modified)):
        return None  # the failed version is the newer one: it is still the key's failure
    kept = None
    copy = head(s3, Bucket=settings.archive_bucket, Key=layout.failed_copy(ref.key))
    if copy is not None and same_version(copy.get("Metadata", {}), failed):
        kept = layout.superseded_original(ref.key, failed.version_label)
        copy_version(
            s3,
            source_bucket=settings.archive_bucket,
            source_key=layout.failed_copy(ref.key),
            source_version=copy.get("VersionId"),
            size=int(copy.get("ContentLength", 0)),
            bucket=settings.archive_bucket,
            key=kept,
            metadata=dict(copy.get("Metadata", {})),
            content_type=str(copy.get("ContentType") or "application/octet-stream"),
            multipart_threshold=settings.copy_multipart_threshold,
            part_size=settings.copy_part_size,
        )
        s3.delete_object(
            Bucket=settings.archive_bucket, Key=layout.failed_copy(ref.key), VersionId=str(copy["VersionId"])
        )
    resolution = Resolution(
        ref.version_id, ref.sequencer, (now or datetime.now(UTC)).isoformat(timespec="seconds"), kept
    )
    write_record(s3, settings.archive_bucket, layout.resolved_record(ref.key), record.resolved_by(resolution), {})
    s3.delete_object(Bucket=settings.archive_bucket, Key=layout.error_record(ref.key))
    return layout.resolved_record(ref.key)


def remove_source(s3: S3Client, source: Source, ref: ObjectRef, settings: Settings) -> None:
    """Delete exactly the version that was moved, never whatever the key holds now."""
    params: dict[str, Any] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id and source.version_id != "null":
        params["VersionId"] = source.version_id
    elif source.where == "staging" and ref.etag:
        params["IfMatch"] = ref.etag
    s3.delete_object(**params)
    if source.where == "failed":
        remove_error_record(s3, ref, settings)


def remove_error_record(s3: S3Client, ref: ObjectRef, settings: Settings) -> None:
    """Delete the key's error record if it describes ``ref`` (not a later version's failure)."""
    record = read_error_record(s3, ref, settings)
    if record is not None:
        s3.delete_object(Bucket=settings.archive_bucket, Key=settings.layout.error_record(ref.key))
