"""What a Batch job tells the workflow. A Lambda task returns its outcome (or its error) in its
payload; a Batch job can only exit with a code. So the worker leaves a report in the archive,
``reports/<key>/<version>.json``: the transform's summary, or the error that rejected the file,
which the archive and failure steps read to put in the execution's output, error and cause."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.storage import read_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_SUMMARY_BYTES = 4096
"""A summary travels in the execution (256 KiB for everything): bigger ones are cut to fit."""


def bounded_summary(summary: dict[str, Any], limit: int = MAX_SUMMARY_BYTES) -> dict[str, Any]:
    """``summary`` as it is, or cut to ``limit`` bytes of JSON: long lists keep their start and
    say how long they were, and ``truncated`` says it was cut."""
    if len(json.dumps(summary, default=str)) <= limit:
        return summary
    cut: dict[str, Any] = {"truncated": True}
    for name, value in summary.items():
        if isinstance(value, list):
            value = value[:20] + ([f"… {len(value) - 20} more"] if len(value) > 20 else [])
        candidate = cut | {name: value}
        if len(json.dumps(candidate, default=str)) <= limit:
            cut = candidate
    return cut


def write_report(s3: S3Client, ref: ObjectRef, settings: Settings, report: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=settings.archive_bucket,
        Key=settings.layout.job_report(ref.key, ref.version_label),
        Body=json.dumps(report, default=str).encode(),
        ContentType="application/json",
    )


def read_report(s3: S3Client, ref: ObjectRef, settings: Settings) -> dict[str, Any] | None:
    """The report a Batch job left for ``ref``'s version, if any."""
    return read_json(s3, settings.archive_bucket, settings.layout.job_report(ref.key, ref.version_label))


def transform_summary(
    s3: S3Client, ref: ObjectRef, settings: Settings, transformed: dict[str, Any]
) -> dict[str, Any] | None:
    """The transform's summary: in the Lambda's result, or else in the Batch job's report."""
    if isinstance(transformed.get("summary"), dict):
        return dict(transformed["summary"])
    if not transformed.get("jobId"):
        return None
    report = read_report(s3, ref, settings)
    summary = (report or {}).get("summary")
    return dict(summary) if isinstance(summary, dict) else None
