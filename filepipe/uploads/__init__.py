"""Getting files into staging: presigned PUTs for small files, credentials scoped to one key
for multipart uploads of large ones, and where an upload is now.

Example::

    service = UploadService(s3, sts, UploadConfig(bucket="staging", role_arn=ROLE))
    grant = service.create(UploadRequest.parse({"filename": "q1.csv", "contentType": "text/csv", "size": 10}))
"""

from filepipe.uploads._keys import sanitize_filename, upload_key
from filepipe.uploads._media import InvalidMediaType, media_type
from filepipe.uploads._service import (
    UploadConfig,
    UploadRejected,
    UploadRequest,
    UploadService,
    presigning_config,
    session_policy,
)

__all__ = [
    "InvalidMediaType",
    "UploadConfig",
    "UploadRejected",
    "UploadRequest",
    "UploadService",
    "media_type",
    "presigning_config",
    "sanitize_filename",
    "session_policy",
    "upload_key",
]
