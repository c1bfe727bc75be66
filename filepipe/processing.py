"""The transform step: the code the Lambda transformer and the Batch worker both run."""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from filepipe.claims import DuplicateExecution, ExecutionId, WouldNotFit
from filepipe.config import Settings
from filepipe.errors import UploadRefused, classified
from filepipe.events import ObjectRef
from filepipe.moves import Source, locate, place, provenance
from filepipe.reports import bounded_summary
from filepipe.storage import MiB, MultipartWriter, RangeReader, read_json
from filepipe.transforms import SourceInfo, transform_for
from filepipe.uploads import InvalidMediaType, media_type

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ProcessOutcome:
    """``transformed``: ``output`` written; ``gone``: the version no longer exists anywhere."""

    status: Literal["transformed", "gone"]
    transform: str | None = None
    output: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def process(
    s3: S3Client,
    ref: ObjectRef,
    settings: Settings,
    execution: str | None = None,
    deadline: float | None = None,
) -> ProcessOutcome:
    """Run ``ref``'s transform, streaming from its original to its output in the archive.

    S3 failures are re-raised as :class:`TransientError` or :class:`PermanentError`, so the
    workflow retries exactly the ones worth retrying. Past ``deadline`` (``time.monotonic()``)
    the transform stops with :class:`WouldNotFit` and its output is aborted.
    """
    with classified(f"processing s3://{ref.bucket}/{ref.key}"):
        return _process(s3, ref, settings, execution, deadline)


def _process(
    s3: S3Client, ref: ObjectRef, settings: Settings, execution: str | None, deadline: float | None
) -> ProcessOutcome:
    source = locate(s3, ref, settings)
    if source is None:
        return ProcessOutcome("gone")
    if source.where == "failed" and execution is not None and ExecutionId(execution).express:
        # A late duplicate of an event whose file has already failed: a retry is the user's call
        # (filepipe retry), and it runs on the Standard machine.
        raise DuplicateExecution(f"s3://{ref.bucket}/{ref.key} is already in the failure prefix")
    hold_to_grant(s3, ref, source, settings)
    transform = transform_for(ref.key)
    layout, name = settings.layout, transform.output_name
    placement = place(
        s3,
        settings,
        layout.output(ref.key, name),
        lambda version: layout.superseded_output(ref.key, version, name),
        ref,
        source.order(ref),
    )
    output_key = placement.key
    if placement.done:
        return ProcessOutcome("transformed", transform.name, output_key, {"reused": True})
    raw: io.RawIOBase = RangeReader(
        s3,
        source.bucket,
        source.key,
        size=source.size,
        version_id=source.version_id,
        chunk_size=settings.read_chunk_size,
        read_ahead=True,
    )
    if deadline is not None:
        raw = _Deadline(raw, deadline)
    reader = io.BufferedReader(raw, buffer_size=MiB)
    info = SourceInfo(key=ref.key, size=source.size, content_type=source.content_type)
    with (
        reader,
        MultipartWriter(
            s3,
            settings.archive_bucket,
            output_key,
            part_size=settings.write_part_size,
            content_type=transform.content_type,
            metadata=provenance(ref, execution, source.modified)
            | {"filepipe-transform": transform.name, "filepipe-transform-version": transform.version},
            send_ahead=True,
        ) as sink,
    ):
        summary = transform.run(reader, sink, info)
    return ProcessOutcome("transformed", transform.name, output_key, bounded_summary(summary))


class _Deadline(io.RawIOBase):
    """A reader that stops the transform reading it once ``deadline`` has passed."""

    def __init__(self, raw: io.RawIOBase, deadline: float) -> None:
        self._raw, self._deadline = raw, deadline

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int | None:
        if time.monotonic() > self._deadline:
            raise WouldNotFit("the transform would not finish within the Express tier's five minutes")
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


def hold_to_grant(s3: S3Client, ref: ObjectRef, source: Source, settings: Settings) -> None:
    """An upload the upload API granted is refused when it is larger than the size declared, or
    of another content type (a presigned PUT is signed for both; multipart credentials are not)."""
    granted = read_json(s3, settings.archive_bucket, settings.layout.grant_record(ref.key))
    if granted is None:
        return
    if source.size > int(granted["size"]):
        raise UploadRefused(f"the upload is {source.size} bytes, but it was granted for {granted['size']}")
    try:
        sent = media_type(source.content_type)
    except InvalidMediaType:
        sent = source.content_type
    if sent != granted["contentType"]:
        raise UploadRefused(f"the upload is {sent!r}, but it was granted for {granted['contentType']!r}")
