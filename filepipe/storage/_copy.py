"""Server-side copies of one object version: CopyObject up to 5 GiB, UploadPartCopy above, in
as many calls as the copy takes.

A copy in parts can outlast one Lambda invocation (48.8 TiB is 10,000 parts of 5 GiB): given a
time to stop by, :func:`copy_version` starts no part after it and returns a :class:`PartialCopy`
instead; called again with it, it asks S3 which parts are done (ListParts) and goes on. The
multipart upload itself is the progress: nothing else is kept, and a part interrupted by a
timeout is simply copied again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from filepipe.storage._parts import MAX_SINGLE_COPY, MiB, byte_ranges, part_size_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

CONSERVATIVE_PART_RATE = 25 * MiB
"""Bytes per second one UploadPartCopy stream is assumed to move when planning how many parts
fit in an invocation (S3 usually does several times better)."""


@dataclass(frozen=True)
class PartialCopy:
    """A copy in parts under way: its multipart upload, and how the source is cut into parts."""

    upload_id: str
    bucket: str
    key: str
    part_size: int
    parts: int
    done: int
    """Parts copied so far (as of the call that returned it)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartialCopy:
        return cls(**{name: data[name] for name in ("upload_id", "bucket", "key", "part_size", "parts", "done")})


def seconds_per_part(part_size: int) -> float:
    """The time one part is planned to take at :data:`CONSERVATIVE_PART_RATE`."""
    return part_size / CONSERVATIVE_PART_RATE


def copy_version(
    s3: S3Client,
    *,
    source_bucket: str,
    source_key: str,
    source_version: str | None,
    size: int,
    bucket: str,
    key: str,
    metadata: dict[str, str],
    content_type: str,
    multipart_threshold: int = MAX_SINGLE_COPY,
    part_size: int = 512 * MiB,
    concurrency: int = 8,
    only_if_absent: bool = False,
    stop_by: float | None = None,
    resume: PartialCopy | None = None,
) -> str | PartialCopy | None:
    """Copy exactly ``source_version`` to ``bucket/key`` without the bytes leaving S3.

    Returns the new object's ETag, or, when the parts left would not all end by ``stop_by`` (a
    ``time.monotonic()`` instant), the :class:`PartialCopy` to pass back as ``resume``. Objects above
    ``multipart_threshold`` (S3's limit is 5 GiB) are copied part by part in parallel; at least
    one part per call, so every call makes progress. A failed part aborts the upload, leaving
    nothing. With ``only_if_absent`` the copy is made only while ``key`` has no current version
    (S3's ``If-None-Match: *``; a ``PreconditionFailed`` error otherwise, and nothing written).
    """
    source: CopySourceTypeDef = {"Bucket": source_bucket, "Key": source_key}
    if source_version:
        source["VersionId"] = source_version
    condition: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_absent else {}
    resumed = resume is not None
    if resume is None and size <= multipart_threshold:
        copied = s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE",
            Metadata=metadata,
            ContentType=content_type,
            **condition,
        )
        return str(copied["CopyObjectResult"].get("ETag", "")).strip('"') or None
    if resume is None:
        size_of_part = part_size_for(size, part_size)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata, ContentType=content_type)[
            "UploadId"
        ]
        resume = PartialCopy(upload_id, bucket, key, size_of_part, len(list(byte_ranges(size, size_of_part))), 0)
    try:
        done = _copied_parts(s3, resume) if resumed else {}
        ranges = list(enumerate(byte_ranges(size, resume.part_size), start=1))
        pending = [(number, span) for number, span in ranges if number not in done]
        done |= _copy_parts(s3, source, resume, pending, concurrency, stop_by)
        if len(done) < len(ranges):
            return PartialCopy(resume.upload_id, bucket, key, resume.part_size, len(ranges), len(done))
        parts = [done[number] for number in sorted(done)]
        completed = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=resume.upload_id, MultipartUpload={"Parts": parts}, **condition
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=resume.upload_id)
        raise
    return str(completed.get("ETag", "")).strip('"') or None


def _copied_parts(s3: S3Client, partial: PartialCopy) -> dict[int, CompletedPartTypeDef]:
    """The parts S3 already holds for the upload."""
    found: dict[int, CompletedPartTypeDef] = {}
    pages = s3.get_paginator("list_parts").paginate(Bucket=partial.bucket, Key=partial.key, UploadId=partial.upload_id)
    for page in pages:
        for part in page.get("Parts", []):
            found[part["PartNumber"]] = {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
    return found


def _copy_parts(
    s3: S3Client,
    source: CopySourceTypeDef,
    partial: PartialCopy,
    pending: list[tuple[int, tuple[int, int]]],
    concurrency: int,
    stop_by: float | None,
) -> dict[int, CompletedPartTypeDef]:
    """Copy ``pending`` parts, ``concurrency`` at a time, starting none (once one has been
    started) that would not end by ``stop_by`` at :data:`CONSERVATIVE_PART_RATE`."""
    last_start = None if stop_by is None else stop_by - seconds_per_part(partial.part_size)

    def copy_part(number: int, first: int, last: int) -> CompletedPartTypeDef:
        response = s3.upload_part_copy(
            Bucket=partial.bucket,
            Key=partial.key,
            UploadId=partial.upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={first}-{last}",
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    copied: dict[int, CompletedPartTypeDef] = {}
    queue: Iterator[tuple[int, tuple[int, int]]] = iter(pending)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        running: set[Future[CompletedPartTypeDef]] = set()
        for started, (number, (first, last)) in enumerate(queue):
            if started and last_start is not None and time.monotonic() >= last_start:
                break
            if len(running) >= concurrency:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                copied |= {part["PartNumber"]: part for part in (f.result() for f in finished)}
                if last_start is not None and time.monotonic() >= last_start:
                    break
            running.add(pool.submit(copy_part, number, first, last))
        copied |= {part["PartNumber"]: part for part in (f.result() for f in running)}
    return copied
