"""Server-side copies of one object version: CopyObject up to 5 GiB, UploadPartCopy above."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from filepipe.storage._parts import MAX_SINGLE_COPY, MiB, byte_ranges, part_size_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef


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
) -> str | None:
    """Copy exactly ``source_version`` to ``bucket/key`` without the bytes leaving S3.

    Returns the new object's ETag. Objects above ``multipart_threshold`` (S3's limit is 5 GiB)
    are copied part by part in parallel; a failed part aborts the upload, leaving nothing. With
    ``only_if_absent`` the copy is made only while ``key`` has no current version (S3's
    ``If-None-Match: *``; a ``PreconditionFailed`` error otherwise, and nothing written).
    """
    source: CopySourceTypeDef = {"Bucket": source_bucket, "Key": source_key}
    if source_version:
        source["VersionId"] = source_version
    condition: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_absent else {}
    if size <= multipart_threshold:
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

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata, ContentType=content_type)[
        "UploadId"
    ]

    def copy_part(numbered: tuple[int, tuple[int, int]]) -> CompletedPartTypeDef:
        number, (first, last) = numbered
        response = s3.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={first}-{last}",
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    ranges = list(enumerate(byte_ranges(size, part_size_for(size, part_size)), start=1))
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            parts = list(pool.map(copy_part, ranges))
        response = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **condition
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return str(response.get("ETag", "")).strip('"') or None
