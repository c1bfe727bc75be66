"""The upload API's logic, free of HTTP: validate a request, grant an upload, report a status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from filepipe.config import ArchiveLayout
from filepipe.grants import MULTIPART_UPLOAD
from filepipe.storage import GiB, MiB
from filepipe.uploads._keys import InvalidFilename, upload_key

DEFAULT_CONTENT_TYPES = (
    "text/csv",
    "text/plain",
    "application/json",
    "application/pdf",
    "application/octet-stream",
    "application/gzip",
    "application/zip",
    "application/vnd.apache.parquet",
    "image/*",
)


class UploadRejected(Exception):
    """A request the API refuses: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UploadConfig:
    bucket: str
    role_arn: str
    region: str = "us-east-1"
    prefix: str = "uploads/"
    presign_max_bytes: int = 100 * MiB
    """Files up to this size get one presigned PUT; larger ones multipart credentials."""
    max_bytes: int = 5 * 1024 * GiB
    """The largest upload accepted (S3's object limit is 5 TiB)."""
    expires_seconds: int = 900
    part_size: int = 16 * MiB
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    archive_bucket: str | None = None
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    s3_endpoint: str | None = None
    """Where clients send the bytes; None means the regional AWS endpoint."""


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    content_type: str
    size: int

    @classmethod
    def parse(cls, body: Any) -> UploadRequest:
        if not isinstance(body, dict):
            raise UploadRejected(400, "body must be a JSON object with filename, contentType and size")
        size = body.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise UploadRejected(400, "size must be a non-negative integer (bytes)")
        content_type = body.get("contentType")
        if not isinstance(content_type, str) or "/" not in content_type:
            raise UploadRejected(400, "contentType must be a MIME type such as text/csv")
        return cls(filename=body.get("filename"), content_type=content_type.strip().lower(), size=size)  # type: ignore[arg-type]


def session_policy(bucket: str, key: str) -> dict[str, Any]:
    """The only thing the credentials may do: multipart-upload exactly ``bucket/key``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UploadThisKeyOnly",
                "Effect": "Allow",
                "Action": list(MULTIPART_UPLOAD),
                "Resource": f"arn:aws:s3:::{bucket}/{key}",
            }
        ],
    }


class UploadService:
    def __init__(self, s3: Any, sts: Any, config: UploadConfig, sfn: Any = None, state_machine_arn: str = "") -> None:
        self._s3, self._sts, self._sfn = s3, sts, sfn
        self.config = config
        self._state_machine_arn = state_machine_arn

    def create(self, request: UploadRequest, now: datetime | None = None) -> dict[str, Any]:
        """A presigned PUT or scoped multipart credentials for a new, server-chosen key."""
        config = self.config
        if not any(fnmatchcase(request.content_type, allowed) for allowed in config.content_types):
            raise UploadRejected(415, f"content type {request.content_type!r} is not accepted")
        if request.size > config.max_bytes:
            raise UploadRejected(413, f"{request.size} bytes is over the {config.max_bytes}-byte limit")
        try:
            key = upload_key(request.filename, config.prefix, now)
        except InvalidFilename as exc:
            raise UploadRejected(400, str(exc)) from exc
        grant: dict[str, Any] = {"bucket": config.bucket, "key": key, "region": config.region}
        if request.size <= config.presign_max_bytes:
            grant |= self._presigned_put(key, request)
        else:
            grant |= self._multipart_credentials(key)
        return grant

    def _presigned_put(self, key: str, request: UploadRequest) -> dict[str, Any]:
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.config.bucket, "Key": key, "ContentType": request.content_type},
            ExpiresIn=self.config.expires_seconds,
            HttpMethod="PUT",
        )
        return {
            "method": "PUT",
            "url": url,
            "headers": {"Content-Type": request.content_type},
            "expiresIn": self.config.expires_seconds,
        }

    def _multipart_credentials(self, key: str) -> dict[str, Any]:
        response = self._sts.assume_role(
            RoleArn=self.config.role_arn,
            RoleSessionName=f"upload-{key.split('/')[-2][:32]}",
            Policy=json.dumps(session_policy(self.config.bucket, key)),
            DurationSeconds=max(self.config.expires_seconds, 900),
        )
        credentials = response["Credentials"]
        return {
            "method": "MULTIPART",
            "credentials": {
                "accessKeyId": credentials["AccessKeyId"],
                "secretAccessKey": credentials["SecretAccessKey"],
                "sessionToken": credentials["SessionToken"],
                "expiration": str(credentials["Expiration"]),
            },
            "objectUrl": self.object_url(key),
            "endpoint": self.config.s3_endpoint,
            "partSize": self.config.part_size,
        }

    def object_url(self, key: str) -> str:
        """Where the client sends the parts: path-style on a custom endpoint, virtual-hosted on AWS."""
        path = quote(key, safe="/~")
        if self.config.s3_endpoint:
            return f"{self.config.s3_endpoint.rstrip('/')}/{self.config.bucket}/{path}"
        return f"https://{self.config.bucket}.s3.{self.config.region}.amazonaws.com/{path}"

    def status(self, key: str) -> dict[str, Any]:
        """Where an upload is: waiting, processing, archived or failed (with its error)."""
        if not isinstance(key, str) or not key.startswith(self.config.prefix):
            raise UploadRejected(400, f"key must start with {self.config.prefix!r}")
        archive, layout = self.config.archive_bucket, self.config.layout
        if archive and self._exists(archive, layout.original(key)):
            outputs = self._s3.list_objects_v2(Bucket=archive, Prefix=layout.output(key, ""))
            return {
                "key": key,
                "state": "archived",
                "location": layout.original(key),
                "outputs": [o["Key"] for o in outputs.get("Contents", [])],
            }
        if archive:
            record = self._error_record(archive, layout.error_record(key))
            if record is not None:
                return {
                    "key": key,
                    "state": "failed",
                    "error": record.get("error"),
                    "cause": record.get("cause"),
                    "attempts": record.get("attempts"),
                    "location": layout.failed_copy(key),
                }
        if self._exists(self.config.bucket, key):
            execution = self._running_execution(key)
            if execution:
                return {"key": key, "state": "processing", "execution": execution}
            return {"key": key, "state": "waiting"}
        return {"key": key, "state": "unknown"}

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _error_record(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        with body:
            return dict(json.loads(body.read()))

    def _running_execution(self, key: str) -> str | None:
        if self._sfn is None or not self._state_machine_arn:
            return None
        running = self._sfn.list_executions(
            stateMachineArn=self._state_machine_arn, statusFilter="RUNNING", maxResults=100
        )["executions"]
        for execution in running:
            described = self._sfn.describe_execution(executionArn=execution["executionArn"])
            if json.loads(described.get("input") or "{}").get("key") == key:
                return str(execution["executionArn"])
        return None
