"""What the per-file state machines write to CloudWatch Logs, at each ``executionLogs`` setting.

CloudWatch Logs is priced by the byte ingested, and at level ALL with execution data a small
file's Express execution writes more log than it costs to run (issue 29). ``errors`` logs only
error events, without their input and output: enough to see that and where an execution failed;
the command line reads the rest from the claims table and the error records. ``all`` logs every
event with its data, for debugging.

One filter serves the stack (its ``LogOptions``) and the local cloud (which writes the events
itself).

Example::

    level = EXECUTION_LOGS["errors"]
    kept = [e for e in history if level.logs(e["type"])]
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

StepFunctionsLevel = Literal["ALL", "ERROR", "FATAL", "OFF"]

FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
ERROR_EVENTS = FATAL_EVENTS | frozenset(
    {
        "FailStateEntered",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduleFailed",
        "LambdaFunctionStartFailed",
        "LambdaFunctionTimedOut",
        "MapIterationAborted",
        "MapIterationFailed",
        "MapRunAborted",
        "MapRunFailed",
        "MapStateAborted",
        "MapStateFailed",
        "ParallelStateAborted",
        "ParallelStateFailed",
        "TaskFailed",
        "TaskStartFailed",
        "TaskStateAborted",
        "TaskSubmitFailed",
        "TaskTimedOut",
        "WaitStateAborted",
    }
)
"""The history events Step Functions logs at level ERROR (its "Log levels" page)."""
EXECUTION_DATA_FIELDS = ("input", "output", "parameters", "cause")
"""What ``includeExecutionData: false`` leaves out of a logged event's details."""


@dataclass(frozen=True)
class ExecutionLogLevel:
    """One ``executionLogs`` setting: the machines' log level, whether their events carry data,
    and the level the functions log at."""

    level: StepFunctionsLevel
    include_execution_data: bool
    function_log_level: str

    def logs(self, event_type: str) -> bool:
        """Whether an event of this type reaches the log group."""
        if self.level == "ALL":
            return True
        if self.level == "ERROR":
            return event_type in ERROR_EVENTS
        return self.level == "FATAL" and event_type in FATAL_EVENTS

    def details(self, details: dict[str, Any]) -> dict[str, Any]:
        """An event's details as logged: without input, output and cause unless data is included."""
        if self.include_execution_data:
            return details
        return {k: v for k, v in details.items() if k not in EXECUTION_DATA_FIELDS}

    def logging_configuration(self, log_group_arn: str) -> dict[str, Any]:
        """The state machine's ``loggingConfiguration``, as the Step Functions API takes it."""
        return {
            "level": self.level,
            "includeExecutionData": self.include_execution_data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
        }

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any]) -> ExecutionLogLevel:
        """A machine's level read back from its ``loggingConfiguration``."""
        return cls(
            str(configuration.get("level", "OFF")).upper(),  # type: ignore[arg-type]
            bool(configuration.get("includeExecutionData", False)),
            "",
        )


EXECUTION_LOGS: dict[str, ExecutionLogLevel] = {
    "errors": ExecutionLogLevel("ERROR", include_execution_data=False, function_log_level="WARNING"),
    "all": ExecutionLogLevel("ALL", include_execution_data=True, function_log_level="INFO"),
}
"""``executionLogs``'s values: ``errors`` (the default) and ``all`` (debugging)."""


def logged_events(
    history: Iterable[dict[str, Any]], execution_arn: str, level: ExecutionLogLevel, after: int = 0
) -> list[dict[str, Any]]:
    """An execution's history events (``GetExecutionHistory``'s shape) after event ``after``, as
    Step Functions writes them to CloudWatch Logs at ``level``: ``{"timestamp", "message"}`` each.
    The local cloud writes these; the cost model weighs them for a machine it does not log."""
    events = []
    for event in history:
        if int(event["id"]) <= after or not level.logs(event["type"]):
            continue
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        timestamp = event["timestamp"]
        if not isinstance(timestamp, datetime.datetime):
            timestamp = datetime.datetime.fromisoformat(str(timestamp))
        millis = int(timestamp.timestamp() * 1000)
        record = {
            "id": str(event["id"]),
            "type": event["type"],
            "details": level.details(details),
            "previous_event_id": str(event.get("previousEventId", 0)),
            "event_timestamp": str(millis),
            "execution_arn": execution_arn,
            "redrive_count": "0",
        }
        events.append({"timestamp": millis, "message": json.dumps(record, default=str)})
    return events
