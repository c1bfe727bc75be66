"""Reading what the pipeline wrote: a HEAD or a small JSON object, None when it is not there."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GONE_CODES = frozenset(
    {"404", "NoSuchKey", "NoSuchVersion", "NotFound", "405", "MethodNotAllowed", "412", "PreconditionFailed"}
)
"""Head errors that mean "this version is not here": missing, a delete marker, another ETag."""


def head(s3: S3Client, **params: Any) -> dict[str, Any] | None:
    """HeadObject, or None when the object (version) is not there."""
    try:
        return dict(s3.head_object(**params))
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in GONE_CODES:
            return None
        raise


def read_json(s3: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    """A JSON object the pipeline wrote, or None when it is not there."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in GONE_CODES:
            return None
        raise
    with body:
        return dict(json.loads(body.read()))
