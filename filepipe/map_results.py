"""What a backfill's or reprocess's Map Run did, counted from what each child reported.

A Distributed Map writes every child's output to S3 (its ``ResultWriter``: a manifest, then
``SUCCEEDED_n.json`` and ``FAILED_n.json`` files), and the execution's output points at the
manifest. Each child's output names the keys it handled by outcome (the trigger's ``started``,
``duplicates``, ``young``, ``gone``; the reprocess function's ``reprocessed``, ``current``,
``inFlight``, ``failed``, ``gone``), so the counts are of what happened, not of what was listed.

Example::

    counts = map_counts(target, execution_arn)
    counts.by_outcome["started"], counts.failed_items
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

OUTCOMES = {
    "backfill": ("started", "duplicates", "young", "gone"),
    "reprocess": ("reprocessed", "current", "inFlight", "gone", "failed"),
}
"""Each listing machine's outcomes, in the order they are shown."""
LABELS = {
    "started": "started",
    "duplicates": "already started (an execution of that version exists)",
    "young": "too young (their own events will start them)",
    "gone": "gone since the listing (deleted, or already moved on)",
    "reprocessed": "sent back to staging (processed again)",
    "current": "already made by this version",
    "inFlight": "left alone: a newer upload is on its way",
    "failed": "left alone: the key's latest upload failed",
}


@dataclass
class MapCounts:
    """Keys by outcome, and the items whose child failed (with their errors)."""

    by_outcome: Counter[str] = field(default_factory=Counter)
    failed_items: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    written: bool = True
    """False when the run wrote no results (it failed before its Map, or is still running)."""

    @property
    def listed(self) -> int:
        return sum(self.by_outcome.values()) + self.failed_items

    def to_json(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            **dict(self.by_outcome),
            "failedItems": self.failed_items,
            "errors": dict(self.errors),
        }


def map_counts(s3: S3Client, sfn: SFNClient, execution_arn: str) -> MapCounts:
    """Count what the Map Run of ``execution_arn`` (a backfill or reprocess) did."""
    output = json.loads(sfn.describe_execution(executionArn=execution_arn).get("output") or "{}")
    details = (output.get("results") or {}).get("ResultWriterDetails")
    counts = MapCounts()
    if not details:
        counts.written = False
        return counts
    manifest = _json(s3, details["Bucket"], details["Key"])
    for status, files in manifest.get("ResultFiles", {}).items():
        for result in files:
            for child in _json(s3, details["Bucket"], result["Key"]):
                _count(counts, status, child)
    return counts


def _count(counts: MapCounts, status: str, child: dict[str, Any]) -> None:
    if status == "SUCCEEDED":
        handled = json.loads(child.get("Output") or "{}")
        for outcome, keys in handled.items():
            counts.by_outcome[outcome] += len(keys) if isinstance(keys, list) else 0
    else:
        items = json.loads(child.get("Input") or "{}").get("Items") or [None]
        counts.failed_items += len(items)
        counts.errors[str(child.get("Error") or status)] += len(items)


def _json(s3: S3Client, bucket: str, key: str) -> Any:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    with body:
        return json.loads(body.read())
