"""Outputs an older transform made: their originals go back through the pipeline.

The reprocess state machine (``state_machine/reprocess.asl.json``) lists the archive's outputs with
a Distributed Map and hands each listed output to the reprocess function. When the output's
metadata names the transform at another version, the function copies the archived original
server-side back into staging as a new version of its key. The upload's own path then processes
it: the new output takes the output's name, and the older output and original are kept under
``superseded/``, as for any newer version of a key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from filepipe.config import Settings
from filepipe.errors import MalformedEvent, error_code
from filepipe.storage import copy_version, head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

META_REPROCESS_OF = "filepipe-reprocess-of"
"""On a copy sent back to staging: the original version whose output an older transform made."""


@dataclass(frozen=True)
class ReprocessBatch:
    """The Map's batch of listed outputs, and what the current transform is."""

    output_keys: list[str]
    transform: str
    version: str


@dataclass(frozen=True)
class Decision:
    output_key: str
    outcome: str
    """``reprocessed`` (its original is back in staging), ``current`` (made by this version, or by
    another transform), ``inFlight`` (staging holds the key: a newer upload, or this original
    sent back before, is on its way), ``failed`` (the key's latest upload failed and waits for a
    fix or a retry, which the older original must not overtake) or ``gone`` (the output or its
    original is no longer there)."""
    key: str | None = None


def parse_reprocess_batch(event: Any) -> ReprocessBatch:
    """``{"Items": [{"Key": ...}], "BatchInput": {"transform", "version"}}`` (ItemBatcher's shape)."""
    if not isinstance(event, dict) or not isinstance(event.get("Items"), list):
        raise MalformedEvent("a reprocess batch needs Items (the listed outputs)")
    batch_input = event.get("BatchInput")
    if not isinstance(batch_input, dict):
        raise MalformedEvent("a reprocess batch needs BatchInput")
    transform, version = batch_input.get("transform"), batch_input.get("version")
    if not isinstance(transform, str) or not transform or not isinstance(version, str) or not version:
        raise MalformedEvent("a reprocess batch needs BatchInput.transform and BatchInput.version")
    keys = []
    for item in event["Items"]:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise MalformedEvent(f"a listed output needs a Key, got {item!r}")
        keys.append(item["Key"])
    return ReprocessBatch(keys, transform, version)


def is_outdated(metadata: dict[str, str], transform: str, version: str) -> bool:
    """Whether an output's metadata says ``transform`` made it at a version other than ``version``."""
    return (
        metadata.get("filepipe-transform") == transform
        and "filepipe-key" in metadata
        and metadata.get("filepipe-transform-version") != version
    )


def reprocess_output(s3: S3Client, settings: Settings, output_key: str, transform: str, version: str) -> Decision:
    """Send the original of one outdated output back into staging (nothing else is touched)."""
    output = head(s3, Bucket=settings.archive_bucket, Key=output_key)
    if output is None:
        return Decision(output_key, "gone")
    metadata = output.get("Metadata", {})
    if not is_outdated(metadata, transform, version):
        return Decision(output_key, "current")
    key = base64.urlsafe_b64decode(metadata["filepipe-key"]).decode("utf-8")
    # Staging holding the key means a file is on its way that the current transform will process:
    # a newer upload (which the older original must not overtake) or this original, sent before.
    # The copy is conditional on that too, for an upload landing between this look and the copy.
    if head(s3, Bucket=settings.staging_bucket, Key=key) is not None:
        return Decision(output_key, "inFlight", key)
    if head(s3, Bucket=settings.archive_bucket, Key=settings.layout.error_record(key)) is not None:
        return Decision(output_key, "failed", key)
    original = head(s3, Bucket=settings.archive_bucket, Key=settings.layout.original(key))
    if original is None:
        return Decision(output_key, "gone", key)
    try:
        _send_back(s3, settings, key, original)
    except ClientError as exc:
        if error_code(exc) != "PreconditionFailed":
            raise
        return Decision(output_key, "inFlight", key)
    return Decision(output_key, "reprocessed", key)


def _send_back(s3: S3Client, settings: Settings, key: str, original: dict[str, Any]) -> None:
    copy_version(
        s3,
        source_bucket=settings.archive_bucket,
        source_key=settings.layout.original(key),
        source_version=original.get("VersionId"),
        size=int(original["ContentLength"]),
        bucket=settings.staging_bucket,
        key=key,
        metadata={META_REPROCESS_OF: original.get("Metadata", {}).get("filepipe-source-version", "")},
        content_type=str(original.get("ContentType") or "application/octet-stream"),
        multipart_threshold=settings.copy_multipart_threshold,
        part_size=settings.copy_part_size,
        only_if_absent=True,
    )


def reprocess_batch(s3: S3Client, settings: Settings, batch: ReprocessBatch) -> dict[str, list[str]]:
    """Each listed output's decision, as the Map's item result: output keys by outcome."""
    outcomes: dict[str, list[str]] = {"reprocessed": [], "current": [], "inFlight": [], "failed": [], "gone": []}
    for output_key in batch.output_keys:
        decision = reprocess_output(s3, settings, output_key, batch.transform, batch.version)
        outcomes[decision.outcome].append(output_key)
    return outcomes
