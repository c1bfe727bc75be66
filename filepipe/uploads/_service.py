"""The upload API's logic, free of HTTP: validate a request, grant an upload, report a status."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError

from filepipe.claims import Claims
from filepipe.config import ArchiveLayout
from filepipe.events import ObjectRef, execution_name
from filepipe.grants import MULTIPART_UPLOAD, USE_KEY
from filepipe.moves import read_record
from filepipe.partitions import partition_of, s3_object_url
from filepipe.storage import MAX_OBJECT_SIZE, MAX_PARTS, MiB, head, part_size_for, read_json
from filepipe.uploads._keys import InvalidFilename, upload_key
from filepipe.uploads._media import InvalidMediaType, accepted, media_type
from filepipe.uploads._reasons import public_reason

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

MAX_KEY_BYTES = 1024
"""S3's longest key, in bytes of UTF-8."""
CREDENTIALS_SECONDS = 3600
"""Multipart credentials last an hour: the most AssumeRole gives a role session (the API's
function is one). Clients renew them (``POST /api/uploads/renew``) for longer uploads."""
MAX_UPLOAD_HOURS = 72
"""How long after its grant an upload may still renew its credentials (5 TiB at 50 MB/s is 29 h)."""

DEFAULT_CONTENT_TYPES = (
    "text/csv",
    "text/plain",
    "application/json",
    "application/pdf",
    "application/vnd.ms-excel",
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
    max_bytes: int = MAX_OBJECT_SIZE
    """The largest upload accepted: S3's largest object (10,000 parts of 5 GiB) unless lowered."""
    expires_seconds: int = 900
    """How long a presigned PUT is valid."""
    credentials_seconds: int = CREDENTIALS_SECONDS
    part_size: int = 16 * MiB
    """The smallest part a multipart grant asks for; a larger file's parts grow to fit 10,000."""
    max_parts: int = MAX_PARTS
    """S3's part limit (lowered by tests to reach it with small files)."""
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    archive_bucket: str | None = None
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    s3_endpoint: str | None = None
    """Where clients send the bytes; None means the regional AWS endpoint."""
    kms_key_arn: str | None = None
    """The key staging encrypts with (SSE-KMS), which multipart sessions must be able to use."""

    def to_env(self) -> dict[str, str]:
        """The upload API function's variables that :meth:`from_env` reads back."""
        return {
            "UPLOAD_ROLE_ARN": self.role_arn,
            "UPLOAD_PREFIX": self.prefix,
            "PRESIGN_MAX_BYTES": str(self.presign_max_bytes),
            "MAX_UPLOAD_BYTES": str(self.max_bytes),
            "UPLOAD_PART_SIZE": str(self.part_size),
            "UPLOAD_MAX_PARTS": str(self.max_parts),
            "UPLOAD_KMS_KEY_ARN": self.kms_key_arn or "",
            "UPLOAD_CONTENT_TYPES": ",".join(self.content_types),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str], **given: Any) -> UploadConfig:
        """Read :meth:`to_env`'s variables (a missing one keeps its default); ``given`` adds what
        the function knows otherwise (its buckets, region and endpoint)."""
        types = tuple(t.strip() for t in env.get("UPLOAD_CONTENT_TYPES", "").split(",") if t.strip())
        values: dict[str, Any] = {
            "role_arn": env["UPLOAD_ROLE_ARN"],
            "prefix": env.get("UPLOAD_PREFIX", cls.prefix),
            "presign_max_bytes": int(env.get("PRESIGN_MAX_BYTES", cls.presign_max_bytes)),
            "max_bytes": int(env.get("MAX_UPLOAD_BYTES", cls.max_bytes)),
            "part_size": int(env.get("UPLOAD_PART_SIZE", cls.part_size)),
            "max_parts": int(env.get("UPLOAD_MAX_PARTS", cls.max_parts)),
            "kms_key_arn": env.get("UPLOAD_KMS_KEY_ARN") or None,
        }
        if types:
            values["content_types"] = types
        return cls(**values, **given)


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
        try:
            content_type = media_type(body.get("contentType"))
        except InvalidMediaType as exc:
            raise UploadRejected(400, str(exc)) from exc
        return cls(filename=body.get("filename"), content_type=content_type, size=size)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GrantRecord:
    """What an upload was granted for, kept in the archive (``grants/<key>.json``): the pipeline
    refuses an object larger than ``size`` or of another content type, and only ``owner`` may
    renew a multipart upload's credentials."""

    key: str
    size: int
    contentType: str
    method: str
    owner: str
    issued: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @property
    def issued_at(self) -> datetime:
        return datetime.fromisoformat(self.issued)


def session_policy(
    bucket: str, key: str, kms_key_arn: str | None = None, region: str = UploadConfig.region
) -> dict[str, Any]:
    """The only thing the credentials may do: multipart-upload exactly ``bucket/key`` (an ARN of
    ``region``'s partition: ``arn:aws-cn:s3:::...`` in China), and, when the bucket encrypts with a
    KMS key, have S3 use that key for it (a session's permissions are the intersection of its
    role's and this policy: without the key, S3 refuses every part)."""
    partition = partition_of(region)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "UploadThisKeyOnly",
            "Effect": "Allow",
            "Action": list(MULTIPART_UPLOAD),
            "Resource": partition.arn("s3", "", "", f"{bucket}/{key}"),
        }
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "EncryptThroughS3Only",
                "Effect": "Allow",
                "Action": list(USE_KEY),
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{partition.dns_suffix}"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def presigning_config(s3_endpoint: str | None = None) -> Config:
    """The S3 client configuration presigned PUTs need: SigV4 (botocore may otherwise sign with
    SigV2 in us-east-1) and, on AWS, the bucket's regional virtual host. botocore's default, the
    global host, answers a new bucket outside us-east-1 with a 307 for up to a day, and a browser
    refuses a redirected CORS preflight. A custom endpoint (the local cloud) keeps botocore's
    addressing: a bucket cannot be a subdomain of ``127.0.0.1``."""
    config = Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 3})
    if s3_endpoint:
        return config
    return config.merge(Config(s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}))


class UploadService:
    def __init__(
        self,
        s3: S3Client,
        sts: STSClient,
        config: UploadConfig,
        sfn: SFNClient | None = None,
        state_machine_arn: str = "",
        claims: Claims | None = None,
    ) -> None:
        self._s3, self._sts, self._sfn = s3, sts, sfn
        self.config = config
        self._state_machine_arn = state_machine_arn
        self._claims = claims

    def create(self, request: UploadRequest, owner: str = "", now: datetime | None = None) -> dict[str, Any]:
        """A presigned PUT or scoped multipart credentials for a new, server-chosen key, and the
        grant's record (what the pipeline will hold the upload to)."""
        config = self.config
        if not accepted(request.content_type, config.content_types):
            raise UploadRejected(415, f"content type {request.content_type!r} is not accepted")
        if request.size > config.max_bytes:
            raise UploadRejected(413, f"{request.size} bytes is over the {config.max_bytes}-byte limit")
        try:
            key = upload_key(request.filename, config.prefix, now)
        except InvalidFilename as exc:
            raise UploadRejected(400, str(exc)) from exc
        method = "PUT" if request.size <= config.presign_max_bytes else "MULTIPART"
        issued = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        self._keep(GrantRecord(key, request.size, request.content_type, method, owner, issued))
        grant: dict[str, Any] = {
            "bucket": config.bucket,
            "key": key,
            "region": config.region,
            "size": request.size,
            "contentType": request.content_type,
        }
        if method == "PUT":
            grant |= self._presigned_put(key, request)
        else:
            grant |= self._multipart_credentials(key, request.size)
        return grant

    def renew(self, key: Any, owner: str = "", now: datetime | None = None) -> dict[str, Any]:
        """New credentials for a multipart upload still under way (the old ones last an hour),
        for whoever was granted it; never for one whose object arrived (it may be archived by
        now, and a part sent with new credentials would make a new version of it)."""
        record = self._granted(key, owner)
        if record.method != "MULTIPART":
            raise UploadRejected(404, "no multipart upload was granted for this key")
        if (now or datetime.now(UTC)) - record.issued_at > timedelta(hours=MAX_UPLOAD_HOURS):
            raise UploadRejected(410, f"the grant is over {MAX_UPLOAD_HOURS} hours old; ask for a new upload")
        if self._arrived(record.key):
            raise UploadRejected(409, "the upload is complete; there is nothing left to send")
        return {"key": record.key} | self._multipart_credentials(record.key, record.size)

    def _granted(self, key: Any, owner: str) -> GrantRecord:
        """The grant of ``key`` when ``owner`` holds it; 403 otherwise, whether another principal
        holds it or none does (so nobody learns which keys exist)."""
        record = self._record(self._upload_key(key))
        if record is None or record.owner != owner:
            raise UploadRejected(403, "this upload was not granted to you")
        return record

    def _arrived(self, key: str) -> bool:
        """Whether the object came: in staging, or moved on by the pipeline (archived or failed)."""
        archive, layout = self.config.archive_bucket, self.config.layout
        if head(self._s3, Bucket=self.config.bucket, Key=key) is not None:
            return True
        if not archive:
            return False
        return any(
            head(self._s3, Bucket=archive, Key=where) is not None
            for where in (layout.original(key), layout.error_record(key))
        )

    def _keep(self, record: GrantRecord) -> None:
        if not self.config.archive_bucket:
            return
        self._s3.put_object(
            Bucket=self.config.archive_bucket,
            Key=self.config.layout.grant_record(record.key),
            Body=record.to_json(),
            ContentType="application/json",
        )

    def _record(self, key: str) -> GrantRecord | None:
        if not self.config.archive_bucket:
            return None
        found = read_json(self._s3, self.config.archive_bucket, self.config.layout.grant_record(key))
        return GrantRecord(**found) if found is not None else None

    def _presigned_put(self, key: str, request: UploadRequest) -> dict[str, Any]:
        """Signed for the declared content type and length: S3 refuses a body of another size."""
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.config.bucket,
                "Key": key,
                "ContentType": request.content_type,
                "ContentLength": request.size,
            },
            ExpiresIn=self.config.expires_seconds,
            HttpMethod="PUT",
        )
        return {
            "method": "PUT",
            "url": url,
            "headers": {"Content-Type": request.content_type},
            "expiresIn": self.config.expires_seconds,
        }

    def _multipart_credentials(self, key: str, size: int) -> dict[str, Any]:
        """Credentials for ``key`` alone, and the part size that fits ``size`` bytes in S3's
        10,000 parts (the configured one up to 160 GiB, then the smallest whole MiB that fits)."""
        response = self._sts.assume_role(
            RoleArn=self.config.role_arn,
            RoleSessionName=f"upload-{key.split('/')[-2][:32]}",
            Policy=json.dumps(session_policy(self.config.bucket, key, self.config.kms_key_arn, self.config.region)),
            DurationSeconds=self.config.credentials_seconds,
        )
        credentials = response["Credentials"]
        expiration = credentials["Expiration"]
        return {
            "method": "MULTIPART",
            "credentials": {
                "accessKeyId": credentials["AccessKeyId"],
                "secretAccessKey": credentials["SecretAccessKey"],
                "sessionToken": credentials["SessionToken"],
                "expiration": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
            },
            "objectUrl": self.object_url(key),
            "endpoint": self.config.s3_endpoint,
            "partSize": part_size_for(size, self.config.part_size, self.config.max_parts),
        }

    def object_url(self, key: str) -> str:
        """Where the client sends the parts: path-style on a custom endpoint, the bucket's regional
        host on AWS (:func:`~filepipe.partitions.s3_object_url`)."""
        if self.config.s3_endpoint:
            return f"{self.config.s3_endpoint.rstrip('/')}/{self.config.bucket}/{quote(key, safe='/~')}"
        return s3_object_url(self.config.bucket, self.config.region, key)

    def status(self, key: Any, owner: str = "") -> dict[str, Any]:
        """Where an upload is: waiting, processing, archived or failed (with a one-line reason);
        only for whoever was granted it."""
        key = self._granted(key, owner).key
        archive, layout = self.config.archive_bucket, self.config.layout
        if archive and head(self._s3, Bucket=archive, Key=layout.original(key)) is not None:
            outputs = self._s3.list_objects_v2(Bucket=archive, Prefix=layout.output(key, ""))
            return {
                "key": key,
                "state": "archived",
                "location": layout.original(key),
                "outputs": [o["Key"] for o in outputs.get("Contents", [])],
            }
        if archive:
            record = read_record(self._s3, archive, layout.error_record(key))
            if record is not None:
                return {
                    "key": key,
                    "state": "failed",
                    "error": record.error,
                    "reason": public_reason(record),
                    "attempts": record.attempts,
                }
        found = head(self._s3, Bucket=self.config.bucket, Key=key)
        if found is None:
            return {"key": key, "state": "unknown"}
        execution = self._execution(key, found)
        if execution is not None:
            return {"key": key, "state": "processing", "execution": execution}
        return {"key": key, "state": "waiting"}

    def _upload_key(self, key: Any) -> str:
        """A key this API could have granted: under the prefix, at most S3's 1,024 bytes of
        UTF-8, and no control characters or lone surrogates (no granted name has them)."""
        refused = UploadRejected(400, f"key must be an upload key, starting {self.config.prefix!r}")
        if not isinstance(key, str) or not key.startswith(self.config.prefix):
            raise refused
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in key) or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise refused
        return key

    def _execution(self, key: str, found: dict[str, Any]) -> str | None:
        """The execution of the version in staging, found by its name (made from the version,
        as the trigger makes it): one DescribeExecution, no listing. An Express execution cannot
        be described; one at work holds the version's claim, which one GetItem reads."""
        if self._sfn is None or not self._state_machine_arn or not found.get("VersionId"):
            return None
        name = execution_name(ObjectRef(self.config.bucket, key, str(found["VersionId"]), None, 0, None))
        prefix = self._state_machine_arn.replace(":stateMachine:", ":execution:")
        arn = f"{prefix}:{name}"
        try:
            self._sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return self._claims.holder(name) if self._claims is not None else None
            raise
        return arn
