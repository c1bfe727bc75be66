"""Files no event announced: a listing's objects, started through the same per-file path.

The backfill state machine (``state_machine/backfill.asl.json``) lists staging with a Distributed
Map and hands the trigger batches of listed objects. Each object is started exactly as its upload
event would have started it: the same execution name (from its current version), the same
machine for its size. So a backfill racing a live event starts nothing twice, and an object that
already had its execution is counted as a duplicate. The scheduled sweep is the same backfill with
an age: only objects older than the longest processing time are started, because anything that
old in staging is a file nobody is working on.

Instead of a listing, the machine can read a manifest: a CSV with a ``Key`` column under the
archive's manifests prefix, written from a list of keys or from an S3 Inventory report.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlparse

from filepipe.config import MAX_KEY_BYTES
from filepipe.errors import MalformedEvent
from filepipe.events import ObjectRef
from filepipe.storage import head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Listed:
    """One object of an S3 listing (a Distributed Map's ``listObjectsV2`` item)."""

    key: str
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class ListingBatch:
    bucket: str
    items: list[Listed]
    older_than_seconds: int
    reason: str
    """``backfill`` (a person asked) or ``sweep`` (the schedule)."""


def is_listing_batch(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("Items"), list) and "BatchInput" in event


def parse_listing_batch(event: dict[str, Any]) -> ListingBatch:
    """``{"Items": [{"Key", "Size", "LastModified", ...}], "BatchInput": {...}}`` (ItemBatcher's shape)."""
    batch_input = event["BatchInput"]
    if not isinstance(batch_input, dict):
        raise MalformedEvent("a listing batch's BatchInput must be an object")
    bucket = batch_input.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise MalformedEvent("a listing batch needs BatchInput.bucket")
    items = []
    for item in event["Items"]:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise MalformedEvent(f"a listed object needs a Key, got {item!r}")
        items.append(Listed(item["Key"], int(item.get("Size") or 0), _timestamp(item.get("LastModified"))))
    return ListingBatch(
        bucket=bucket,
        items=items,
        older_than_seconds=int(batch_input.get("olderThanSeconds") or 0),
        reason=str(batch_input.get("reason") or "backfill"),
    )


@dataclass(frozen=True)
class ToStart:
    """A listing batch sorted: the versions to start, and the keys left (and why)."""

    refs: list[ObjectRef]
    young: list[str]
    """Younger than the sweep's age: their own events will start them."""
    gone: list[str]
    """Not in staging any more (processed, or deleted, since the listing)."""


def refs_to_start(s3: S3Client, batch: ListingBatch, now: datetime | None = None) -> ToStart:
    """The current version of each listed object old enough to start, and the keys left."""
    now = now or datetime.now(UTC)
    refs, young, gone = [], [], []
    for item in batch.items:
        age = (now - item.last_modified).total_seconds() if item.last_modified else None
        if batch.older_than_seconds and (age is None or age < batch.older_than_seconds):
            young.append(item.key)
            continue
        current = head(s3, Bucket=batch.bucket, Key=item.key)
        if current is None:
            gone.append(item.key)
            continue
        refs.append(
            ObjectRef(
                bucket=batch.bucket,
                key=item.key,
                version_id=current.get("VersionId") or None,
                etag=str(current.get("ETag") or "").strip('"') or None,
                size=int(current.get("ContentLength") or 0),
                event_time=_iso(current.get("LastModified")),
            )
        )
    return ToStart(refs, young, gone)


def _iso(stamp: Any) -> str | None:
    return stamp.astimezone(UTC).isoformat(timespec="seconds") if isinstance(stamp, datetime) else None


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def manifest_field(key: str) -> str:
    """A key as Step Functions' CSV reader reads it back whole: quoted, a quote doubled, and a
    backslash escaped (its reader drops a backslash before any other character)."""
    return '"' + key.replace("\\", "\\\\").replace('"', '""') + '"'


def manifest_csv(keys: Iterable[str]) -> Iterator[bytes]:
    """A manifest the backfill machine reads (a ``Key`` header, then one key per row, as
    :func:`manifest_field` writes it), in pieces; an invalid key, or none at all, raises
    ValueError before it is written."""
    buffer = io.StringIO()
    buffer.write("Key\n")
    listed = 0
    for key in keys:
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ValueError(f"not an S3 key: {key!r}")
        buffer.write(manifest_field(key) + "\n")
        listed += 1
        if buffer.tell() >= 1 << 20:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if not listed:
        raise ValueError("the manifest lists no keys")
    yield buffer.getvalue().encode("utf-8")


def lines(text: Iterable[str]) -> Iterator[str]:
    """Keys from a key list, one per line (line ends dropped, blank lines skipped, spaces kept)."""
    for line in text:
        key = line.rstrip("\r\n")
        if key:
            yield key


def inventory_keys(s3: S3Client, manifest_url: str, bucket: str) -> Iterator[str]:
    """The current keys of ``bucket`` in an S3 Inventory report (CSV format), from its
    ``manifest.json``: each data file is read as a stream, delete markers and older versions are
    left out, and keys are URL-decoded as the report encodes them."""
    location = urlparse(manifest_url)
    if location.scheme != "s3" or not location.netloc or not location.path.endswith("manifest.json"):
        raise ValueError(
            f"an S3 Inventory report is named by its manifest: s3://BUCKET/.../manifest.json, not {manifest_url}"
        )
    manifest = json.loads(s3.get_object(Bucket=location.netloc, Key=location.path.lstrip("/"))["Body"].read())
    if manifest.get("fileFormat") != "CSV":
        raise ValueError(f"only CSV inventory reports can be read, not {manifest.get('fileFormat')}")
    columns = [c.strip() for c in str(manifest["fileSchema"]).split(",")]
    data_bucket = str(manifest.get("destinationBucket", location.netloc)).rsplit(":", 1)[-1]
    for data in manifest["files"]:
        body = s3.get_object(Bucket=data_bucket, Key=data["key"])["Body"]
        with gzip.open(body, "rt", encoding="utf-8", newline="") as text:
            for row in csv.reader(text):
                record = dict(zip(columns, row, strict=False))
                if record.get("Bucket") != bucket or record.get("IsDeleteMarker") == "true":
                    continue
                if record.get("IsLatest", "true") == "true":
                    yield unquote_plus(record["Key"])
