"""Fidelity patch: S3 uses a bucket's or object's KMS key as the caller, as S3 does (canary in
``tests/local/test_moto_adapter.py``).

S3 encrypts and decrypts SSE-KMS objects by calling KMS with the requester's permissions, so a
request succeeds only if the caller (its role narrowed by any session policy) may use the key,
with ``kms:ViaService`` set to S3's regional name. moto stores the key and never asks, so a role
without the key, or a multipart session whose policy names only S3 actions, passed locally and
failed in AWS. What each request needs, from S3's documentation:

- writing an object (PutObject, a part, the destination of a copy): ``kms:GenerateDataKey``;
- starting a multipart upload: ``kms:GenerateDataKey`` and ``kms:Decrypt``;
- completing one, listing its parts, reading an object (GetObject, the source of a copy):
  ``kms:Decrypt``. HeadObject needs neither.

The key is the bucket's default (``PutBucketEncryption``) or the request's own for a write, the
object's for a read. Key policies are not modelled: every key here delegates to IAM, as a key
made with the default policy does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from filepipe.local.adapter.policy import Caller, Refused

GENERATE = "kms:GenerateDataKey"
DECRYPT = "kms:Decrypt"


AWS_MANAGED = "alias/aws/s3"
"""S3's own key: its key policy lets every principal of the account use it through S3."""


def key_arn(key_id: str | None, region: str, account: str) -> str | None:
    """A key ID, alias or ARN as S3 stores it, as the ARN IAM evaluates (None: no check, for no
    key or S3's own)."""
    if not key_id or key_id.endswith(AWS_MANAGED):
        return None
    if key_id.startswith("arn:"):
        return key_id
    return f"arn:aws:kms:{region}:{account}:{key_id if key_id.startswith('alias/') else 'key/' + key_id}"


def _destination_key(response: Any) -> str | None:
    """The key a write to this bucket encrypts with: the request's, else the bucket's default."""
    headers = response.headers
    if headers.get("x-amz-server-side-encryption") == "aws:kms":
        requested = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
        return requested or AWS_MANAGED
    bucket = response.backend.buckets.get(response.bucket_name)
    encryption = getattr(bucket, "encryption", None) or {}
    default = encryption.get("Rule", {}).get("ApplyServerSideEncryptionByDefault", {})
    return str(default.get("KMSMasterKeyID") or AWS_MANAGED) if default.get("SSEAlgorithm") == "aws:kms" else None


def _object_key(response: Any, bucket: str, key: str, version: str | None) -> str | None:
    """The key an existing object was encrypted with, if it is SSE-KMS."""
    try:
        found = response.backend.get_object(bucket, key, version_id=version)
    except Exception:  # missing: the request fails on its own
        return None
    if found is None or getattr(found, "encryption", None) != "aws:kms":
        return None
    return str(found.kms_key_id or AWS_MANAGED)


def _copy_source_key(response: Any) -> str | None:
    source = response.headers.get("x-amz-copy-source")
    if not source:
        return None
    parsed = urlparse(source if isinstance(source, str) else source.decode("utf-8"))
    bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    return _object_key(response, bucket, key, version)


def needed(response: Any, method: str, query: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The KMS actions an S3 request needs, each with the key (as stored) it needs it on."""
    try:
        if not response.bucket_name or not response.parse_key_name():
            return []
    except Exception:  # a bucket-level request
        return []
    if method == "PUT" and not ({"tagging", "acl", "retention", "legal-hold"} & set(query)):
        writes = [(GENERATE, _destination_key(response))]
        if "x-amz-copy-source" in response.headers:
            writes.append((DECRYPT, _copy_source_key(response)))
        return writes
    if method == "POST" and "uploads" in query:
        destination = _destination_key(response)
        return [(GENERATE, destination), (DECRYPT, destination)]
    if (method == "POST" and "uploadId" in query) or (method == "GET" and "uploadId" in query):
        return [(DECRYPT, _destination_key(response))]
    if method == "GET" and not ({"tagging", "acl", "retention", "legal-hold", "attributes"} & set(query)):
        version = (query.get("versionId") or [None])[0]
        return [(DECRYPT, _object_key(response, response.bucket_name, response.parse_key_name(), version))]
    return []


def check(response: Any, caller: Caller) -> None:
    """Refuse as S3 does when the caller may not use the key the request needs."""
    bucket = response.backend.buckets.get(getattr(response, "bucket_name", None) or "")
    region = str(getattr(bucket, "region_name", None) or "us-east-1")
    context = {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": caller.account_id}
    query = dict(getattr(response, "querystring", None) or {})
    for action, stored in needed(response, response.method, query):
        arn = key_arn(stored, region, caller.account_id)
        if arn is None:
            continue
        if not caller.permits(action, arn, context):
            raise Refused(
                403,
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: {action} on resource: {arn} because no "
                f"identity-based policy allows the {action} action",
            )
