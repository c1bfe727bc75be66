"""Archive: the processed version, copied server-side into the archive, then removed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.moves._locate import (
    Source,
    copy_into_archive,
    head,
    locate,
    read_error_record,
    same_version,
)
from filepipe.moves._placement import place

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ArchiveOutcome:
    """``archived``: at ``location``; ``superseded``: a newer version already held
    ``originals/<key>``, so this one went beside it; ``gone``: nothing to move."""

    status: Literal["archived", "superseded", "gone"]
    location: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive(s3: S3Client, ref: ObjectRef, settings: Settings, execution: str | None = None) -> ArchiveOutcome:
    """Copy exactly ``ref``'s version to the archive, then delete exactly that version.

    Idempotent: when a duplicate execution already copied it, only the delete is left to do;
    when the version is gone from staging and the failure prefix, nothing moves.
    """
    source = locate(s3, ref, settings)
    layout = settings.layout
    if source is None:
        done = head(s3, Bucket=settings.archive_bucket, Key=layout.original(ref.key))
        if done is not None and same_version(done.get("Metadata", {}), ref):
            return ArchiveOutcome("archived", layout.original(ref.key))
        return ArchiveOutcome("gone", None)

    placement = place(
        s3, settings, layout.original(ref.key), lambda version: layout.superseded_original(ref.key, version), ref
    )
    destination = placement.key
    status: Literal["archived", "superseded"] = "superseded" if placement.superseded else "archived"
    already_copied = placement.done
    if not already_copied:
        copy_into_archive(s3, source, ref, settings, destination, execution)
    remove_source(s3, source, ref, settings)
    return ArchiveOutcome(status, destination)


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
