"""What the command line does, against the local cloud or a deployed stack alike (retrying a
failed file is ``filepipe.retries``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from filepipe.claims import Claim, Claims, ExecutionId
from filepipe.config import ArchiveLayout
from filepipe.errors import error_code
from filepipe.events import ObjectRef
from filepipe.moves import FailureRecord, read_record, same_version
from filepipe.storage import head

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

PATH_STATES = {"TransformOnLambda": "lambda", "TransformOnBatch": "batch", "ContinueOnStandard": "to standard"}
EXPRESS_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
EXPRESS_HOURS = 24
"""How far back the CLI reads the Express log group (CloudWatch Logs Insights goes further)."""
HANDED_OVER = "continued on the Standard machine"


@dataclass(frozen=True)
class Target:
    """Where a pipeline lives: its buckets, state machine and layout, and clients to reach them."""

    s3: S3Client
    sfn: SFNClient
    staging_bucket: str
    archive_bucket: str
    state_machine_arn: str
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    logs: CloudWatchLogsClient | None = None
    """A CloudWatch Logs client, to read the Express machine's executions (their only history)."""
    express_log_group: str | None = None
    claims: Claims | None = None
    """The claims table: where an Express execution that logged nothing is still seen."""
    backfill_state_machine_arn: str | None = None
    reprocess_state_machine_arn: str | None = None


@dataclass(frozen=True)
class ExecutionView:
    name: str
    arn: str
    status: str
    key: str
    path: str
    started: datetime
    stopped: datetime | None
    error: str | None
    outcome: str | None
    """Where the object ended: the archive key, failure key, or ``gone``."""
    tier: str = "standard"
    """``standard`` or ``express`` (the machine that ran it)."""
    redrives: int = 0
    """How many times the execution was redriven (the console's Redrive, or ``filepipe retry``)."""
    cause: str | None = None
    """The failure's cause as Step Functions has it (a Lambda's error payload, as JSON)."""

    @property
    def reason(self) -> str | None:
        """The failure's own message, on one line (a Lambda's ``errorMessage``, else the cause)."""
        if not self.cause:
            return None
        try:
            message = json.loads(self.cause).get("errorMessage", self.cause)
        except (ValueError, AttributeError):
            message = self.cause
        return " ".join(str(message).split())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "key": self.key,
            "tier": self.tier,
            "path": self.path,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "seconds": self.seconds,
            "outcome": self.outcome,
            "error": self.error,
            "reason": self.reason,
            "redrives": self.redrives,
        }

    @property
    def seconds(self) -> float | None:
        return (self.stopped - self.started).total_seconds() if self.stopped else None


def executions(target: Target, status: str | None = None, limit: int = 50) -> list[ExecutionView]:
    """The newest executions of both machines (all, or those in ``status``), with key, path and
    outcome: the Standard machine's from Step Functions, the Express one's from its log group."""
    params: dict[str, Any] = {"stateMachineArn": target.state_machine_arn, "maxResults": min(limit, 1000)}
    if status:
        params["statusFilter"] = status
    listed = target.sfn.list_executions(**params)["executions"][:limit]
    views = [describe(target, e["executionArn"]) for e in listed]
    views += [v for v in express_executions(target, newest=limit) if status is None or v.status == status]
    return sorted(views, key=lambda v: v.started, reverse=True)[:limit]


def express_executions(
    target: Target, hours: int = EXPRESS_HOURS, newest: int | None = None, key: str | None = None
) -> list[ExecutionView]:
    """The Express machine's executions of the last ``hours``. Where the machine logs every event
    (``executionLogs=all``) they are read from its log group; at ``errors`` it logs no success
    and no data, so the rest are read from what each execution left: its failure's record (in
    ``errors/`` or ``resolved/``), else the claim it took (only the ``newest`` claims, each
    looked up in the archive), else its logged error events alone. ``key``: only that file's."""
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours)
    logged: dict[str, list[dict[str, Any]]] = {}
    if target.logs is not None and target.express_log_group:
        for event in express_logged(target, startTime=int(since.timestamp() * 1000)):
            logged.setdefault(event["execution_arn"], []).append(event)
    views: dict[str, ExecutionView] = {}
    for arn, events in logged.items():
        events.sort(key=lambda e: int(e["id"]))
        if events[0]["type"] == "ExecutionStarted":
            views[arn] = _express_view(arn, events)
    views = {arn: v for arn, v in views.items() if key in (None, v.key)}
    for view in _express_failures(target, since):
        if key in (None, view.key):
            views.setdefault(view.arn, view)
    for view in _express_claims(target, since, now, newest, key):
        views.setdefault(view.arn, view)
    for arn, events in logged.items():
        if key is None and arn not in views and any(e["type"] in EXPRESS_TERMINAL for e in events):
            views[arn] = _express_view(arn, events)  # a failure that left no record: its file unknown
    return list(views.values())


def _express_failures(target: Target, since: datetime) -> list[ExecutionView]:
    """Failed Express executions, from the records their failure moves wrote."""
    views = []
    for record in error_records(target, since) + resolved_records(target, since):
        if not record.execution or not ExecutionId(record.execution).express:
            continue
        failed_at = _parse_time(record.time)
        if failed_at is None or failed_at < since:
            continue
        cause = record.cause if isinstance(record.cause, str) or record.cause is None else json.dumps(record.cause)
        views.append(
            ExecutionView(
                name=ExecutionId(record.execution).name,
                arn=record.execution,
                status="FAILED",
                key=record.ref.key,
                path="lambda",
                started=failed_at,  # no record keeps an Express execution's start: its failure's time
                stopped=None,
                error=record.error,
                outcome=record.failed_key or None,
                tier="express",
                cause=cause,
            )
        )
    return views


def _express_claims(
    target: Target, since: datetime, now: datetime, newest: int | None, key: str | None
) -> list[ExecutionView]:
    """Express executions that took a claim and did not fail: running while the lease runs and the
    version is not archived; archived once it is; handed over when a Standard execution took over."""
    if target.claims is None:
        return []
    recent = [
        c
        for c in target.claims.express_claims()
        if c.key is not None and c.taken is not None and c.taken >= since.timestamp() and key in (None, c.key)
    ]  # a claim without its file predates issue 29
    recent.sort(key=lambda c: c.taken or 0, reverse=True)
    views = []
    for claim in recent[:newest]:
        assert claim.key is not None and claim.taken is not None
        express = claim.handed_over_by or claim.holder
        outcome: str | None = HANDED_OVER
        status = "SUCCEEDED"
        if not claim.handed_over_by:
            status, outcome = _claimed_outcome(target, claim, now)
        views.append(
            ExecutionView(
                name=ExecutionId(express).name,
                arn=express,
                status=status,
                key=claim.key,
                path="lambda",
                started=datetime.fromtimestamp(claim.taken, UTC),
                stopped=None,
                error=None,
                outcome=outcome,
                tier="express",
            )
        )
    return views


def _claimed_outcome(target: Target, claim: Claim, now: datetime) -> tuple[str, str | None]:
    """Where an Express execution holding ``claim`` put its file: archived, superseded by a newer
    version, or nowhere yet (running while its lease runs)."""
    assert claim.key is not None
    ref = ObjectRef(target.staging_bucket, claim.key, claim.version_id)
    layout = target.layout
    for archived in (layout.original(claim.key), layout.superseded_original(claim.key, ref.version_label)):
        found = head(target.s3, Bucket=target.archive_bucket, Key=archived)
        if found is not None and same_version(found.get("Metadata", {}), ref):
            return "SUCCEEDED", archived
    return ("RUNNING", None) if claim.held(now.timestamp()) else ("SUCCEEDED", None)


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def express_logged(target: Target, **filters: Any) -> Iterator[dict[str, Any]]:
    """The Express machine's logged events (``filter_log_events`` filters), oldest stream first;
    none when the log group does not exist yet."""
    if target.logs is None or not target.express_log_group:
        raise LookupError("this target has no Express log group to read executions from")
    pages = target.logs.get_paginator("filter_log_events").paginate(logGroupName=target.express_log_group, **filters)
    try:
        for page in pages:
            for logged in page["events"]:
                yield json.loads(logged["message"])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise


def _express_view(arn: str, events: list[dict[str, Any]]) -> ExecutionView:
    started = datetime.fromtimestamp(int(events[0]["event_timestamp"]) / 1000, UTC)
    state, status, stopped, error, cause, path, outcome = {}, "RUNNING", None, None, None, "-", None
    for event in events:
        details = event.get("details") or {}
        if event["type"] == "ExecutionStarted":
            state = json.loads(details.get("input") or "{}")
        if event["type"].endswith("StateEntered") and details.get("name") in PATH_STATES:
            path = PATH_STATES[details["name"]] if path == "-" else f"{path}, {PATH_STATES[details['name']]}"
        if event["type"].endswith("StateExited"):
            outcome = _outcome(details.get("name"), details.get("output")) or outcome
            if details.get("name") == "Duplicate":
                outcome = "duplicate (another execution had it)"
            if details.get("name") == "ContinueOnStandard":
                outcome = HANDED_OVER
        if event["type"] in EXPRESS_TERMINAL:
            status = EXPRESS_TERMINAL[event["type"]]
            stopped = datetime.fromtimestamp(int(event["event_timestamp"]) / 1000, UTC)
            error, cause = details.get("error"), details.get("cause")
    return ExecutionView(
        name=ExecutionId(arn).name,
        arn=arn,
        status=status,
        key=str(state.get("key", "?")),
        path=path,
        started=started,
        stopped=stopped,
        error=error,
        outcome=outcome,
        tier="express",
        cause=cause,
    )


ENDING_STEPS = {"Archive": "archived", "ArchiveInParts": "archived", "MoveToFailed": "failed"}
"""The workflow's last task states, and where each puts its result."""


def _outcome(state_name: str | None, output: str | None) -> str | None:
    if state_name not in ENDING_STEPS:
        return None
    result = json.loads(output or "{}").get(ENDING_STEPS[state_name])
    if not result or result.get("status") == "copying":
        return None
    outcome = result.get("location") or result.get("status")
    if result.get("resolved"):
        outcome = f"{outcome} (fixed an earlier failure)"
    return str(outcome)


def describe(target: Target, execution_arn: str) -> ExecutionView:
    """One execution as the CLI shows it: the path and outcome are read from its history."""
    described = target.sfn.describe_execution(executionArn=execution_arn)
    state = json.loads(described.get("input") or "{}")
    path, outcome = "-", None
    events = target.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    for event in events:
        entered = event.get("stateEnteredEventDetails", {}).get("name")
        if entered in PATH_STATES:
            path = PATH_STATES[entered]
        exited = event.get("stateExitedEventDetails", {})
        outcome = _outcome(exited.get("name"), exited.get("output")) or outcome
    return ExecutionView(
        name=described["name"],
        arn=execution_arn,
        status=described["status"],
        key=str(state.get("key", "?")),
        path=path,
        started=described["startDate"],
        stopped=described.get("stopDate"),
        error=described.get("error"),
        outcome=outcome,
        redrives=int(described.get("redriveCount") or 0),
        cause=described.get("cause"),
    )


def listing(target: Target) -> dict[str, list[str]]:
    """Keys in staging, and in the archive's originals, outputs, failed and errors areas."""
    areas: dict[str, list[str]] = {"staging": _keys(target.s3, target.staging_bucket, "")}
    layout = target.layout
    for area, prefix in (
        ("archived", layout.originals),
        ("outputs", layout.outputs),
        ("failed", layout.failed),
        ("errors", layout.errors),
        ("superseded", layout.superseded),
        ("resolved", layout.resolved),
    ):
        areas[area] = _keys(target.s3, target.archive_bucket, prefix)
    return areas


def resolved(target: Target, views: Iterable[ExecutionView]) -> set[str]:
    """The ARNs among ``views`` whose failure a newer version of the key has since fixed (its
    record moved to ``resolved/``)."""
    found = set()
    for view in views:
        if view.status == "FAILED" and view.key != "?":
            record = read_record(target.s3, target.archive_bucket, target.layout.resolved_record(view.key))
            if record is not None and record.execution == view.arn:
                found.add(view.arn)
    return found


def error_records(target: Target, since: datetime | None = None) -> list[FailureRecord]:
    """Every error record in the archive: one per file waiting in the failure prefix (written
    at or after ``since``, if given)."""
    return _records(target, target.layout.errors, since)


def resolved_records(target: Target, since: datetime | None = None) -> list[FailureRecord]:
    """Every resolved record: a failure a newer version of its key has since fixed (moved
    there at or after ``since``, if given)."""
    return _records(target, target.layout.resolved, since)


def _records(target: Target, prefix: str, since: datetime | None) -> list[FailureRecord]:
    """The records under ``prefix``; with ``since``, only those the listing dates from then on, so
    that a status does not read every record ever written (a record is written as its failure
    happens, or later when resolved, so none failing since then is left out)."""
    keys = _keys(target.s3, target.archive_bucket, prefix, since)
    return [r for key in keys if (r := read_record(target.s3, target.archive_bucket, key)) is not None]


def _keys(s3: S3Client, bucket: str, prefix: str, since: datetime | None = None) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    listed = (obj for page in pages for obj in page.get("Contents", []))
    floor = since.replace(microsecond=0) if since is not None else None  # S3 dates to the second
    return sorted(obj["Key"] for obj in listed if floor is None or obj["LastModified"] >= floor)
