"""Starting and following the machines that run a Distributed Map over many files: the backfill
and the reprocess (what their Map Runs' results say is ``filepipe.map_results``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from filepipe.backfill import manifest_csv
from filepipe.errors import DeploymentError, is_transient
from filepipe.operations import Target
from filepipe.storage import MultipartWriter


@dataclass(frozen=True)
class MapProgress:
    """A backfill's or reprocess's execution and its Map Run's item counts (objects listed and
    handed on)."""

    execution_arn: str
    status: str
    items: dict[str, int]
    error: str | None = None
    cause: str | None = None
    """Why it failed, as Step Functions says (a Map whose reader was refused says only
    ``States.Runtime`` as its error; the cause names the call and the role)."""

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"


def start_backfill(
    target: Target,
    prefix: str = "",
    older_than_seconds: int = 0,
    reason: str = "backfill",
    keys: Iterable[str] | None = None,
) -> str:
    """Start the backfill machine over ``prefix`` of staging, or over ``keys`` (written first as a
    manifest under the archive's manifests prefix); its execution ARN. Each object is started as
    its upload's event would have been, so what already ran starts nothing new."""
    if not target.backfill_state_machine_arn:
        raise DeploymentError("this pipeline has no backfill state machine (deployed before issue 17?)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{reason}-{stamp}"
    payload: dict[str, Any] = {"prefix": prefix, "olderThanSeconds": older_than_seconds, "reason": reason}
    if keys is not None:
        payload["manifest"] = f"{name}.csv"
        _write_manifest(target, target.layout.manifests + payload["manifest"], keys)
    started = target.sfn.start_execution(
        stateMachineArn=target.backfill_state_machine_arn, name=name, input=json.dumps(payload)
    )
    return str(started["executionArn"])


def _write_manifest(target: Target, key: str, keys: Iterable[str]) -> None:
    """Stream ``keys`` into a manifest object; none, or a bad key, writes nothing."""
    with MultipartWriter(target.s3, target.archive_bucket, key, content_type="text/csv") as sink:
        for piece in manifest_csv(keys):
            sink.write(piece)


def start_reprocess(target: Target, transform: str, current_version: str | None = None, prefix: str = "") -> str:
    """Start the reprocess machine over the outputs under ``prefix`` (of the outputs prefix); its
    execution ARN. Each output ``transform`` made at a version other than ``current_version`` (this
    code's, by default) has its original sent back into staging as a new version of its key, so
    the same per-file path processes it again (``filepipe.reprocess``)."""
    from filepipe.transforms import TRANSFORMS

    if transform not in TRANSFORMS:
        raise LookupError(f"no transform named {transform!r} (known: {', '.join(sorted(TRANSFORMS))})")
    if not target.reprocess_state_machine_arn:
        raise DeploymentError("this pipeline has no reprocess state machine (deployed before issue 17?)")
    version = current_version or TRANSFORMS[transform].version
    name = f"reprocess-{transform}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    payload = {"transform": transform, "version": version, "prefix": prefix}
    started = target.sfn.start_execution(
        stateMachineArn=target.reprocess_state_machine_arn, name=name[:80], input=json.dumps(payload)
    )
    return str(started["executionArn"])


def map_progress(target: Target, execution_arn: str) -> MapProgress:
    described = target.sfn.describe_execution(executionArn=execution_arn)
    runs = target.sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    items: dict[str, int] = {}
    if runs:
        try:
            counts = target.sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
            items = {k: counts[k] for k in ("total", "succeeded", "failed", "running", "pending")}
        except ClientError as exc:
            if not is_transient(exc):
                raise  # a Map Run just begun may not answer yet; the next poll asks again
    return MapProgress(execution_arn, described["status"], items, described.get("error"), described.get("cause"))
