"""Retrying failed files from the command line, as the Step Functions console retries them.

``filepipe retry`` does what the console's **Redrive** does where Step Functions allows it: the
same execution runs again from the step it failed in, which for this workflow means processing
the file again from wherever it is now (``Failed`` sends it back to ``Route``). Where a redrive is
not possible (an Express execution; one that ended more than 14 days ago; one whose definition
predates redrive, whose Fail state would only fail again), it does what **New execution** does:
a Standard execution with the same input, named ``<name>-retryN`` so that asking twice starts one.
A failure a newer version of the key has since resolved is not retried; ``retry`` says so.

``filepipe redrive`` retries every file the failure prefix holds, and every file a refused move
left in staging, each with a new execution (``docs/retries.md`` tells the whole story).

Example::

    retried = retry(target, "failed-execution-name")
    print(retried.how, retried.execution_arn)   # redriven arn:aws:states:...:execution:...
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

import state_machine
from filepipe.claims import ExecutionId
from filepipe.config import Settings
from filepipe.errors import DeploymentError, error_code
from filepipe.events import ObjectRef, retry_name
from filepipe.moves import Resolution, locate, read_error_record, read_record
from filepipe.operations import (
    ExecutionView,
    Target,
    describe,
    error_records,
    express_executions,
    express_logged,
    resolved_records,
)
from filepipe.trigger import start_once

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

DEPLOYMENT_ERROR = DeploymentError.__name__
"""The error an execution ends with when its failure move was refused (the file stays in staging)."""
EXPRESS_NOT_REDRIVABLE = "Express executions cannot be redriven: the file is retried on the Standard machine."
OLDER_DEFINITION = "its definition predates redrive (its Fail state would only fail again)."

How = Literal["redriven", "started", "already started", "already running", "already succeeded", "already resolved"]


@dataclass(frozen=True)
class Retried:
    """What ``retry`` did with one execution's file."""

    how: How
    execution_arn: str
    """The execution that runs the file again: the same one when redriven."""
    key: str
    not_redriven: str | None = None
    """Why a new execution was started instead of a redrive, when one was."""
    resolution: Resolution | None = None
    """``already resolved``: which newer version resolved the failure, and where its original went."""

    @property
    def name(self) -> str:
        return ExecutionId(self.execution_arn).name

    @property
    def runs(self) -> bool:
        """Whether an execution is (or may still be) processing the file now."""
        return self.how in ("redriven", "started", "already started", "already running")


def retry(target: Target, execution: str) -> Retried:
    """Run ``execution``'s file again (an ARN, or a name of either machine's execution): a Redrive
    where Step Functions allows one, else a new Standard execution with the same input."""
    if ExecutionId(execution).express:
        return _retry_on_standard(target, execution, _express_input(target, execution), EXPRESS_NOT_REDRIVABLE)
    arn = execution if execution.startswith("arn:") else _execution_arn(target, execution)
    try:
        described = target.sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if error_code(exc) != "ExecutionDoesNotExist" or execution.startswith("arn:"):
            raise
        named = [v for v in express_executions(target) if v.name == execution]
        if not named:
            raise
        latest = max(named, key=lambda v: v.started).arn
        return _retry_on_standard(target, latest, _express_input(target, latest), EXPRESS_NOT_REDRIVABLE)
    ref = ObjectRef.from_state(json.loads(described["input"]))
    if described["status"] in ("RUNNING", "SUCCEEDED"):
        return Retried("already running" if described["status"] == "RUNNING" else "already succeeded", arn, ref.key)
    resolved = _resolution(target, ref)
    if resolved is not None:
        return Retried("already resolved", arn, ref.key, resolution=resolved)
    reason = _why_not_redrivable(target, described)
    if reason is None:
        try:
            target.sfn.redrive_execution(executionArn=arn)
            return Retried("redriven", arn, ref.key)
        except ClientError as exc:
            if error_code(exc) != "ExecutionNotRedrivable":
                raise
            reason = str(exc.response.get("Error", {}).get("Message") or "not redrivable")
    return _retry_on_standard(target, arn, ref, reason)


def _why_not_redrivable(target: Target, described: DescribeExecutionOutputTypeDef) -> str | None:
    """Why redriving this failed execution would not retry its file, or None if it would."""
    if described.get("redriveStatus") == "NOT_REDRIVABLE":
        return str(described.get("redriveStatusReason") or "Step Functions will not redrive it.")
    definition = target.sfn.describe_state_machine_for_execution(executionArn=described["executionArn"])["definition"]
    return None if state_machine.redrive_retries_the_file(json.loads(definition)) else OLDER_DEFINITION


def _retry_on_standard(target: Target, failed_arn: str, ref: ObjectRef, reason: str) -> Retried:
    """A new Standard execution for ``failed_arn``'s file (``<name>-retryN``: asking twice starts one)."""
    resolved = _resolution(target, ref)
    if resolved is not None:
        return Retried("already resolved", failed_arn, ref.key, reason, resolved)
    name, started = _start_retry(target, ref)
    return Retried("started" if started else "already started", _execution_arn(target, name), ref.key, reason)


def _resolution(target: Target, ref: ObjectRef) -> Resolution | None:
    """How a newer version of the key resolved ``ref``'s failure, if one did (``resolved/<key>.json``)."""
    record = read_record(target.s3, target.archive_bucket, target.layout.resolved_record(ref.key))
    return record.resolved if record is not None and record.describes(ref) else None


def wait(target: Target, execution_arn: str, timeout: float = 900.0, every: float = 1.0) -> ExecutionView:
    """``execution_arn`` once it has ended (a redriven execution runs again under its own ARN)."""
    deadline = time.monotonic() + timeout
    while (view := describe(target, execution_arn)).status == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{view.name} is still running after {timeout:.0f} seconds")
        time.sleep(every)
    return view


def _express_input(target: Target, arn: str) -> ObjectRef:
    """An Express execution's input (Step Functions keeps none): from its ExecutionStarted event
    where the machine logs every event, else from the record its failure wrote (``errors/`` or,
    once a newer version fixed it, ``resolved/``). The retry runs on the Standard machine, as every
    retry of an Express failure does."""
    if target.logs is not None and target.express_log_group:
        for event in express_logged(target, filterPattern=f'"{arn}"'):
            if event.get("execution_arn") == arn and event["type"] == "ExecutionStarted":
                return ObjectRef.from_state(json.loads(event["details"]["input"]))
    for record in error_records(target) + resolved_records(target):
        if record.execution == arn:
            return record.ref
    raise LookupError(f"no record of {arn}'s failure in errors/ or resolved/, nor its input in its log group")


def redrive(target: Target) -> list[tuple[str, str, bool]]:
    """Retry every file in the failure prefix, and every file a refused move left in staging
    (see :func:`stranded`), each with a new execution: ``(key, execution name, started)`` each."""
    results = []
    for record in error_records(target):
        name, started = _start_retry(target, record.ref, attempt=record.attempts)
        results.append((record.ref.key, name, started))
    for ref, attempts in stranded(target):
        name, started = _start_retry(target, ref, attempt=attempts)
        results.append((ref.key, name, started))
    return results


def stranded(target: Target, limit: int = 1000) -> list[tuple[ObjectRef, int]]:
    """Files still in staging whose latest executions failed with ``DeploymentError``: a move
    was refused by a missing grant, so there is no error record to redrive them from. Each comes
    with how many of the newest ``limit`` failed executions were its own."""
    found: dict[tuple[str, str | None], tuple[ObjectRef, int]] = {}
    pages = target.sfn.get_paginator("list_executions").paginate(
        stateMachineArn=target.state_machine_arn, statusFilter="FAILED", PaginationConfig={"MaxItems": limit}
    )
    for page in pages:
        for listed in page["executions"]:
            described = target.sfn.describe_execution(executionArn=listed["executionArn"])
            if described.get("error") != DEPLOYMENT_ERROR:
                continue
            ref = ObjectRef.from_state(json.loads(described.get("input") or "{}"))
            seen = found.get((ref.key, ref.version_id))
            found[(ref.key, ref.version_id)] = (ref, (seen[1] if seen else 0) + 1)
    settings = Settings(target.staging_bucket, target.archive_bucket, target.layout)
    return [(ref, count) for ref, count in found.values() if _in_staging(target, ref, settings)]


def _in_staging(target: Target, ref: ObjectRef, settings: Settings) -> bool:
    source = locate(target.s3, ref, settings)
    return source is not None and source.where == "staging"


def _start_retry(target: Target, ref: ObjectRef, attempt: int | None = None) -> tuple[str, bool]:
    if attempt is None:
        attempt = _attempts(target, ref)
    name = retry_name(ref, attempt)
    if _exists(target, name):
        return name, False
    return name, start_once(target.sfn, target.state_machine_arn, name, ref)


def _attempts(target: Target, ref: ObjectRef) -> int:
    settings = Settings(target.staging_bucket, target.archive_bucket, target.layout)
    record = read_error_record(target.s3, ref, settings)
    return record.attempts if record else 1


def _exists(target: Target, name: str) -> bool:
    """StartExecution is idempotent for a running execution of the same name and input, so it
    cannot tell "started" from "already running": ask first."""
    try:
        target.sfn.describe_execution(executionArn=_execution_arn(target, name))
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return False
        raise
    return True


def _execution_arn(target: Target, name: str) -> str:
    prefix = target.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{name}"
