"""Move to failed: the original into the failure prefix, with a record of what went wrong."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from filepipe.claims import history_of
from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.moves._archive import remove_source
from filepipe.moves._locate import copy_into_archive, locate, provenance, same_version
from filepipe.moves._record import FailureRecord, read_error_record, write_record
from filepipe.reports import read_report
from filepipe.storage import PartialCopy, head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CAUSE_LIMIT = 32 * 1024


@dataclass(frozen=True)
class FailureOutcome:
    """``failed``: the original is at ``location``, the record at ``record``; ``gone``: there
    was no original left to move (deleted, or archived by a duplicate execution); ``archived``:
    the archive step had already copied it before failing, so the archive is completed instead
    (the object must end in exactly one place)."""

    status: Literal["failed", "gone", "archived", "copying"]
    location: str | None
    record: str | None
    attempts: int
    error: str
    """The name the execution fails with (see :func:`execution_error_name`)."""
    cause: str = ""
    """What the execution's cause says: the error's message, from a Lambda or a Batch job alike."""
    copy: dict[str, Any] | None = None
    """While ``copying`` (a copy in parts to ``location`` under way): the
    :class:`~filepipe.storage.PartialCopy` the step goes on with when it runs again."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def move_to_failed(
    s3: S3Client,
    ref: ObjectRef,
    settings: Settings,
    *,
    error: str,
    cause: str,
    execution: str | None = None,
    history: str | None = None,
    now: datetime | None = None,
    stop_by: float | None = None,
    copying: dict[str, Any] | None = None,
) -> FailureOutcome:
    """Put ``ref``'s original under the failure prefix and write its error record.

    A file that fails again after a retry is already there: only the record is rewritten, with
    ``attempts`` counting every failed processing of this version. A Batch job's failure is told
    by the job's report (its transform's error and message), as a Lambda's is by its payload.
    ``history`` says where the execution's history is (an Express one's is in CloudWatch Logs).
    A copy in parts stops at ``stop_by`` (``copying``) and goes on when called again with it.
    """
    error, cause = explained(s3, ref, settings, error, cause)
    told = cause[:_CAUSE_LIMIT]
    source = locate(s3, ref, settings)
    if source is None:
        return FailureOutcome("gone", None, None, 0, execution_error_name(error), told)
    layout = settings.layout
    archived = head(s3, Bucket=settings.archive_bucket, Key=layout.original(ref.key))
    if source.where == "staging" and archived is not None and same_version(archived.get("Metadata", {}), ref):
        remove_source(s3, source, ref, settings)
        return FailureOutcome("archived", layout.original(ref.key), None, 0, execution_error_name(error), told)
    failed_key = layout.failed_copy(ref.key)
    previous = read_error_record(s3, ref, settings)
    attempts = (previous.attempts if previous else 0) + 1
    if source.where == "staging":
        resume = PartialCopy.from_json(copying["partial"]) if copying else None
        partial = copy_into_archive(s3, source, ref, settings, failed_key, execution, stop_by, resume)
        if partial is not None:
            return FailureOutcome(
                "copying",
                failed_key,
                None,
                attempts,
                execution_error_name(error),
                told,
                copy={"partial": partial.to_json()},
            )
    record = FailureRecord(
        ref=ref,
        error=error,
        cause=_parse_cause(cause),
        attempts=attempts,
        failed_key=failed_key,
        time=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        execution=execution,
        history=history or history_of(execution, None),
        modified=source.modified,
    )
    write_record(s3, settings.archive_bucket, layout.error_record(ref.key), record, provenance(ref, execution))
    if source.where == "staging":
        remove_source(s3, source, ref, settings)
    return FailureOutcome(
        "failed", failed_key, layout.error_record(ref.key), attempts, execution_error_name(error), told
    )


def explained(s3: S3Client, ref: ObjectRef, settings: Settings, error: str, cause: str) -> tuple[str, str]:
    """A failed Batch job says only ``States.TaskFailed`` and its exit code; its report says
    which error ended it, and why. The job's description is kept beside the message."""
    if error not in ("States.TaskFailed", "Filepipe.TaskFailed"):
        return error, cause
    try:
        job = json.loads(cause)
    except ValueError:
        return error, cause
    report = read_report(s3, ref, settings) if isinstance(job, dict) and "JobId" in job else None
    if not report or report.get("status") != "failed":
        return error, cause
    attempts = job.get("Attempts") or [{}]
    told = {
        "errorMessage": report.get("errorMessage", ""),
        "errorType": report.get("errorType", "Unknown"),
        "batchJob": {
            "jobId": job.get("JobId"),
            "exitCode": (attempts[-1].get("Container") or {}).get("ExitCode"),
            "attempts": len(attempts),
            "statusReason": job.get("StatusReason"),
        },
    }
    return str(told["errorType"]), json.dumps(told, ensure_ascii=False)


def execution_error_name(error: str) -> str:
    """The error a Fail state can end with: ``States.*`` names are reserved for Step Functions,
    so ``States.TaskFailed`` (a failed Batch job) becomes ``Filepipe.TaskFailed``."""
    return f"Filepipe.{error.removeprefix('States.')}" if error.startswith("States.") else error


def _parse_cause(cause: str) -> Any:
    """Step Functions hands a Lambda's error as a JSON string; keep it structured if it is."""
    cause = cause[:_CAUSE_LIMIT]
    try:
        return json.loads(cause)
    except ValueError:
        return cause
