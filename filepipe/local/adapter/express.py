"""Fidelity patches: Express state machines as AWS runs them (a canary in
``tests/local/test_moto_adapter.py``)."""

from __future__ import annotations

import copy
import datetime
import json
import uuid
from typing import Any

from moto.core.exceptions import AWSError
from moto.logs.models import logs_backends
from moto.stepfunctions.exceptions import InvalidArn, InvalidExecutionInput
from moto.stepfunctions.parser.api import StateMachineType
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from filepipe.execution_logs import ExecutionLogLevel, logged_events

# -- Express state machines ----------------------------------------------------------------------
# moto runs an EXPRESS machine as if it were STANDARD: a second StartExecution with the same name
# returns the first execution (AWS starts a second one: Express is at-least-once and keeps no
# names), execution ARNs say ``:execution:`` (AWS: ``:express:<machine>:<name>:<id>``), and
# DescribeExecution, GetExecutionHistory, ListExecutions and StopExecution answer for it (AWS
# refuses them: an Express execution's only history is its CloudWatch Logs group). Here it
# behaves as in AWS, and each execution's events go to the machine's log group when it ends.

EXPRESS = "EXPRESS"


class StateMachineTypeNotSupported(AWSError):
    TYPE = "StateMachineTypeNotSupported"
    STATUS = 400


def _is_express(machine: Any) -> bool:
    return str(getattr(machine, "type", "")).upper() == EXPRESS


_original_start_execution = StepFunctionsParserBackend.start_execution
_original_describe_execution = StepFunctionsParserBackend.describe_execution
_original_get_execution_history = StepFunctionsParserBackend.get_execution_history
_original_list_executions = StepFunctionsParserBackend.list_executions
_original_stop_execution = StepFunctionsParserBackend.stop_execution
_original_terminated = sfn_execution.BaseExecutionWorkerCommunication.terminated


def _start_execution(
    self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, trace_header: Any = None
) -> Any:
    machine = self.describe_state_machine(state_machine_arn)
    if not _is_express(machine):
        return _original_start_execution(self, state_machine_arn, name, execution_input, trace_header)
    input_data = "{}" if execution_input is None else execution_input
    try:
        json.loads(input_data)
    except ValueError as exc:
        raise InvalidExecutionInput(str(exc)) from None
    name = name or str(uuid.uuid4())
    snapshot = copy.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})
    snapshot.sm_type = EXPRESS
    execution = ParserExecution(
        name=name,
        sm_type=StateMachineType.EXPRESS,
        role_arn=snapshot.roleArn,
        exec_arn=f"arn:{self.partition}:states:{self.region_name}:{self.account_id}:express:{machine.name}:{name}:"
        f"{uuid.uuid4()}",
        account_id=self.account_id,
        region_name=self.region_name,
        state_machine=snapshot,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        input_data=input_data,
        trace_header=trace_header,
        activity_store={},
    )
    machine.executions.append(execution)
    execution.start()
    return execution


def _refuse_express_execution(execution_arn: str) -> None:
    if ":express:" in (execution_arn or ""):
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: express' ({execution_arn})")


def _describe_execution(self: Any, execution_arn: str) -> Any:
    _refuse_express_execution(execution_arn)
    return _original_describe_execution(self, execution_arn)


def _get_execution_history(self: Any, execution_arn: str) -> Any:
    _refuse_express_execution(execution_arn)
    return _original_get_execution_history(self, execution_arn)


def _stop_execution(self: Any, execution_arn: str) -> Any:
    _refuse_express_execution(execution_arn)
    return _original_stop_execution(self, execution_arn)


def refuse_listing(backend: Any, state_machine_arn: str) -> None:
    """ListExecutions refuses an Express machine: its executions are in its log group."""
    if _is_express(backend.describe_state_machine(state_machine_arn)):
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")


def _list_executions(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
    refuse_listing(self, state_machine_arn)
    return _original_list_executions(self, state_machine_arn, *args, **kwargs)


def _log_group_of(machine: Any) -> str | None:
    """The log group a machine's logging configuration names, if it logs at all."""
    config = getattr(machine, "loggingConfiguration", None) or {}
    if str(config.get("level", "OFF")).upper() == "OFF":
        return None
    for destination in config.get("destinations", []):
        arn = destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
        if ":log-group:" in arn:
            return str(arn.split(":log-group:", 1)[1].removesuffix(":*"))
    return None


def execution_log_events(execution: Any, level: ExecutionLogLevel, after: int = 0) -> list[dict[str, Any]]:
    """An execution's history events after event ``after``, as Step Functions logs them at ``level``."""
    return logged_events(execution.to_history_output()["events"], execution.exec_arn, level, after)


def _terminated(self: Any) -> None:
    """Write the execution's events to its machine's log group when it ends (a redriven one: the
    events since), at the machine's level; an Express execution's machine is the one it started on."""
    _original_terminated(self)
    execution = self.execution
    machine = execution.state_machine
    group = _log_group_of(machine)
    if group is None:
        return
    level = ExecutionLogLevel.from_configuration(machine.loggingConfiguration)
    logged = getattr(execution, "logged_events", 0)
    events = execution_log_events(execution, level, after=logged)
    execution.logged_events = len(execution.to_history_output()["events"])
    if not events:
        return
    backend = logs_backends[execution.account_id][execution.region_name]
    stream = f"states/{machine.name}/{execution.start_date:%Y-%m-%d}/{uuid.uuid4().hex}"
    try:
        backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, events)
    except Exception:  # a log group deleted or never made: AWS drops the events too
        return


def _patch_express_executions() -> None:
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_execution = _describe_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.get_execution_history = _get_execution_history  # type: ignore[method-assign]
    StepFunctionsParserBackend.stop_execution = _stop_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.list_executions = _list_executions  # type: ignore[method-assign,assignment]
    sfn_execution.BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]


def apply() -> None:
    _patch_express_executions()
