"""The failed execution's last step (the workflow's ``Failed`` task), and what a Redrive makes of it.

A Redrive reruns the state an execution failed in, with the same input. Were that a Fail state,
it would fail again at once and the file would stay where it is. So the execution fails in a
task instead: it reports the file's failure through its task token (``SendTaskFailure`` with the
file's own error and cause, which the console shows), and the failure recorded how many redrives
the execution had then (``$$.Execution.RedriveCount``). Rerun by a Redrive, the task finds one
more than the failure counted, and reports success instead: the workflow then processes the file
again from wherever it is (the failure prefix, or staging), as a new execution with the same
input would. A file that fails again in that redrive fails in this task again, counted anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from filepipe.moves._failure import execution_error_name

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ERROR_LIMIT = 256
CAUSE_LIMIT = 32_768
"""SendTaskFailure's limits on ``error`` and ``cause`` (characters)."""


@dataclass(frozen=True)
class Verdict:
    """``{"failed": <the failure move's outcome>, "redriveCount": n, "taskToken": ...}``."""

    error: str
    cause: str
    failed_at: int
    """How many redrives the execution had when the file failed."""
    redrive_count: int
    """How many it has now."""
    task_token: str

    @property
    def redriven(self) -> bool:
        """Whether a Redrive reran this step, rather than the file failing into it."""
        return self.redrive_count > self.failed_at

    @classmethod
    def parse(cls, event: dict[str, Any]) -> Verdict:
        failed = event.get("failed")
        if not isinstance(failed, dict) or not isinstance(event.get("taskToken"), str):
            raise ValueError("a verdict needs 'failed' (the failure move's outcome) and 'taskToken'")
        return cls(
            error=execution_error_name(str(failed.get("error") or "Unknown")),
            cause=str(failed.get("cause") or ""),
            failed_at=int(failed.get("redriveCount") or 0),
            redrive_count=int(event.get("redriveCount") or 0),
            task_token=event["taskToken"],
        )


def deliver(sfn: SFNClient, verdict: Verdict) -> Literal["failed", "redriven"]:
    """Fail the task with the file's error and cause, or (rerun by a Redrive) let it go on."""
    if verdict.redriven:
        sfn.send_task_success(taskToken=verdict.task_token, output=json.dumps({"redriveCount": verdict.redrive_count}))
        return "redriven"
    sfn.send_task_failure(
        taskToken=verdict.task_token, error=verdict.error[:ERROR_LIMIT], cause=verdict.cause[:CAUSE_LIMIT]
    )
    return "failed"
