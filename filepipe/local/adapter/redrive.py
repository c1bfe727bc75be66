"""Fidelity patch: RedriveExecution, as Step Functions redrives a Standard execution (canary in
``tests/local/test_moto_adapter.py``).

moto has no RedriveExecution: its server answers ``NotImplementedError`` (a 500 page), its
DescribeExecution and ListExecutions say nothing of redrives, and ``$$.Execution.RedriveCount``
is not in the context object. Here, as in AWS:

- a FAILED, ABORTED or TIMED_OUT execution of a Standard machine is redriven under the same ARN,
  with the same definition and input: ``ExecutionRedriven`` is appended to its history, and the
  unsuccessful state (the top-level state it entered and never left) runs again with the input
  its ``StateEntered`` event recorded; the states that succeeded are not run again, and their
  history stays. A failed Distributed Map reruns only its unsuccessful items (``map_redrive``);
- ``ExecutionNotRedrivable`` refuses a RUNNING or SUCCEEDED execution, an Express one, one that
  ended more than 14 days ago, or one whose history has no room for the redrive's events;
- DescribeExecution carries ``redriveCount``, ``redriveDate``, ``redriveStatus`` and
  ``redriveStatusReason``; ListExecutions' items their count and date, and its ``redriveFilter``
  works; the context object has ``RedriveCount`` (0 until redriven) and ``RedriveTime``;
- ``clientToken`` makes a redrive idempotent for the last 10 tokens, 15 minutes each.

Not modelled: an unsuccessful Parallel or inline Map state, of which AWS reruns only the failed
branches or iterations. Such a redrive is refused with a ``ValidationException`` that says so,
rather than rerunning every branch.
"""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass, field
from typing import Any, cast

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
    StateMachineType,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import StateParallel
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.backend import execution_worker as sfn_worker
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse
from moto.stepfunctions.utils import PAGINATION_MODEL
from moto.utilities.paginator import paginate

from filepipe.local.adapter import express, map_redrive

REDRIVABLE_FOR = datetime.timedelta(days=14)
MAX_EXECUTION_TIME = datetime.timedelta(days=365)
HISTORY_LIMIT = 25_000
REDRIVE_EVENTS = 2
"""A redrive appends ``ExecutionRedriven`` and at least one more event to the history."""
TOKENS_KEPT, TOKEN_LIFETIME = 10, datetime.timedelta(minutes=15)
_UNSUCCESSFUL = {ExecutionStatus.FAILED, ExecutionStatus.ABORTED, ExecutionStatus.TIMED_OUT}
_lock = threading.Lock()


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


@dataclass
class Redrives:
    """What an execution keeps of its redrives."""

    count: int = 0
    date: datetime.datetime | None = None
    tokens: dict[str, tuple[datetime.datetime, datetime.datetime]] = field(default_factory=dict)
    """clientToken -> (the redrive's date, when the token was first used)."""


def redrives_of(execution: Any) -> Redrives:
    found: Redrives | None = getattr(execution, "filepipe_redrives", None)
    if found is None:
        found = Redrives()
        execution.filepipe_redrives = found
    return found


def _now() -> datetime.datetime:
    """Now, to the millisecond: Step Functions' dates have no finer grain."""
    now = datetime.datetime.now(tz=datetime.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def not_redrivable_because(execution: Any, now: datetime.datetime | None = None) -> str | None:
    """Why RedriveExecution would refuse ``execution`` now (AWS's ``redriveStatusReason``), or None."""
    now = now or _now()
    status = execution.exec_status
    if status not in _UNSUCCESSFUL:
        return f"Execution is {ExecutionStatus(status).value} and cannot be redriven."
    if execution.stop_date is not None and now - execution.stop_date > REDRIVABLE_FOR:
        return "Execution redrivable period exceeded."
    if now - execution.start_date > MAX_EXECUTION_TIME:
        return "Execution has exceeded the max execution time."
    if _event_count(execution) + REDRIVE_EVENTS > HISTORY_LIMIT:
        return "Execution history event limit exceeded."
    return None


def _event_count(execution: Any) -> int:
    """How many events the execution's history holds (counted, not copied: it may hold 25,000)."""
    env = execution.exec_worker.env if execution.exec_worker else None
    return len(env.event_manager._history_event_list) if env is not None else 0


def _history(execution: Any) -> list[dict[str, Any]]:
    env = execution.exec_worker.env if execution.exec_worker else None
    return list(env.event_manager.get_event_history()) if env is not None else []


def redrive_execution(backend: Any, execution_arn: str, client_token: str | None = None) -> datetime.datetime:
    """Redrive ``execution_arn`` (see the module's docstring); the redrive's date."""
    if ":express:" in (execution_arn or ""):
        raise ExecutionNotRedrivable("Execution is of type EXPRESS and cannot be redriven.")
    if client_token is not None and not 1 <= len(client_token) <= 64:
        raise ValidationException("clientToken must be between 1 and 64 characters long")
    execution = backend.describe_execution(execution_arn)
    if not isinstance(execution, ParserExecution):
        raise ExecutionNotRedrivable("moto runs no state machines here: there is nothing to redrive.")
    with _lock:
        now, kept = _now(), redrives_of(execution)
        seen = kept.tokens.get(client_token) if client_token else None
        if seen is not None and now - seen[1] <= TOKEN_LIFETIME:
            return seen[0]
        reason = not_redrivable_because(execution, now)
        if reason is not None:
            raise ExecutionNotRedrivable(reason)
        _resume(execution, kept.count + 1, now)
        kept.count, kept.date = kept.count + 1, now
        if client_token:
            kept.tokens[client_token] = (now, now)
            for stale in list(kept.tokens)[:-TOKENS_KEPT]:
                del kept.tokens[stale]
        return now


def _resume(execution: Any, count: int, now: datetime.datetime) -> None:
    """Append ``ExecutionRedriven`` and run the unsuccessful state again, in a new worker that
    writes to the same history (moto's worker can only start a program from its StartAt)."""
    previous = execution.exec_worker.env
    worker = execution._get_start_execution_worker()
    program = worker._get_evaluation_entrypoint()
    name, state_input = _unsuccessful_state(execution, program)
    env = worker._get_evaluation_environment()
    env.event_manager = previous.event_manager
    env.map_run_record_pool_manager = previous.map_run_record_pool_manager
    map_redrive.offer_for_redrive(env.map_run_record_pool_manager)
    context = env.states.context_object.context_object_data["Execution"]
    context["RedriveCount"] = count
    context["RedriveTime"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    last = max((int(e["id"]) for e in previous.event_manager.get_event_history()), default=0)
    env.event_history_context = EventHistoryContext(previous_event_id=last)
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionRedriven,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
            executionRedrivenEventDetails=ExecutionRedrivenEventDetails(redriveCount=count)
        ),
    )
    env.states.reset(input_value=state_input)
    env.next_state_name = name
    worker.env = env
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = execution.output = None
    thread = threading.Thread(target=_run_from, args=(worker, program, env), daemon=True)
    TMP_THREADS.append(thread)
    thread.start()


def _unsuccessful_state(execution: Any, program: Any) -> tuple[str, Any]:
    """The top-level state the execution entered last (it never left it), and its input, from
    its ``StateEntered`` event; the first state and the execution's input if it entered none.
    State names are unique across a machine, so a branch's or a child's states are not taken."""
    states = program.states.states
    entered = [
        e["stateEnteredEventDetails"]
        for e in _history(execution)
        if str(e["type"]).endswith("StateEntered") and e.get("stateEnteredEventDetails", {}).get("name") in states
    ]
    if not entered:
        return str(program.start_at.start_at_name), execution.input_data
    name = str(entered[-1]["name"])
    state = states[name]
    inline_map = isinstance(state, StateMap) and not isinstance(
        state.iteration_component, DistributedIterationComponent
    )
    if isinstance(state, StateParallel) or inline_map:
        raise ValidationException(
            f"The local cloud does not model redriving the {type(state).__name__} state {name!r}: AWS reruns "
            "only its failed branches or iterations. Start a new execution instead."
        )
    return name, json.loads(entered[-1]["input"])


def _run_from(worker: Any, program: Any, env: Any) -> None:
    """moto's ``Program.eval`` from ``env.next_state_name``: the machine's TimeoutSeconds starts
    again (AWS resets it on a redrive), and the execution's status follows the program's end."""
    timeout = program.timeout_seconds.timeout_seconds if program.timeout_seconds else None
    runner = threading.Thread(target=EvalComponent.eval, args=(program, env), daemon=True)
    TMP_THREADS.append(runner)
    runner.start()
    runner.join(timeout=timeout)
    if runner.is_alive():
        env.set_timed_out()
    worker._execution_communication.terminated()


# -- the context object: RedriveCount from the start -------------------------------------------

_original_environment = sfn_worker.ExecutionWorker._get_evaluation_environment


def _environment_with_redrive_count(self: Any) -> Any:
    env = _original_environment(self)
    if self._evaluation_details.state_machine_details.typ == StateMachineType.STANDARD:
        context: dict[str, Any] = cast(dict[str, Any], env.states.context_object.context_object_data["Execution"])
        context["RedriveCount"] = 0  # moto's ExecutionData (a TypedDict) predates redrive
    return env


# -- the API ------------------------------------------------------------------------------------


def redrive_fields(execution: Any) -> dict[str, Any]:
    """DescribeExecution's redrive members for ``execution``."""
    kept = redrives_of(execution)
    reason = not_redrivable_because(execution)
    fields: dict[str, Any] = {"redriveCount": kept.count, "redriveStatus": "NOT_REDRIVABLE" if reason else "REDRIVABLE"}
    if kept.date is not None:
        fields["redriveDate"] = kept.date
    if reason:
        fields["redriveStatusReason"] = reason
    return fields


_shipped_redrive_response = getattr(StepFunctionResponse, "redrive_execution", None)
"""moto's own RedriveExecution, if it ever has one (the canary checks it has none)."""


def _redrive_execution_response(self: Any) -> ActionResult:
    date = redrive_execution(self.stepfunction_backend, self._get_param("executionArn"), self._get_param("clientToken"))
    return ActionResult({"redriveDate": date})


_original_describe_response = StepFunctionResponse.describe_execution


def _describe_execution_response(self: Any) -> ActionResult:
    result = _original_describe_response(self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    if isinstance(execution, ParserExecution):  # not moto's executionless mock (unit tests use it)
        result.result.update(redrive_fields(execution))  # type: ignore[attr-defined]  # the response's dict
    return result


def _list_executions_response(self: Any) -> ActionResult:
    """moto's ListExecutions, with each item's redrives and the ``redriveFilter``."""
    redrive_filter = self._get_param("redriveFilter")
    if redrive_filter not in (None, "REDRIVEN", "NOT_REDRIVEN"):
        raise ValidationException(f"Invalid redriveFilter: {redrive_filter}")
    arn = self._get_param("stateMachineArn")
    filters = {"redrive_filter": redrive_filter} if redrive_filter else {}
    results, next_token = self.stepfunction_backend.list_executions(
        arn,
        status_filter=self._get_param("statusFilter"),
        max_results=self._get_int_param("maxResults"),
        next_token=self._get_param("nextToken"),
        **filters,
    )
    items = []
    for execution in results:
        item = {
            "executionArn": execution.execution_arn,
            "name": execution.name,
            "startDate": execution.start_date,
            "stateMachineArn": arn,
            "status": execution.status,
            "redriveCount": redrives_of(execution).count,
        }
        if execution.stop_date is not None:
            item["stopDate"] = execution.stop_date
        if redrives_of(execution).date is not None:
            item["redriveDate"] = redrives_of(execution).date
        items.append(item)
    return ActionResult({"executions": items, "nextToken": next_token})


_list_machine_executions = StepFunctionBackend.list_executions.__wrapped__  # type: ignore[attr-defined]


@paginate(pagination_model=PAGINATION_MODEL)
def list_executions(
    self: Any, state_machine_arn: str, status_filter: str | None = None, redrive_filter: str | None = None
) -> list[Any]:
    """moto's listing (newest first, by status), an Express machine refused, and by redrives."""
    express.refuse_listing(self, state_machine_arn)
    executions = _list_machine_executions(self, state_machine_arn, status_filter)
    if redrive_filter == "REDRIVEN":
        return [e for e in executions if redrives_of(e).count > 0]
    if redrive_filter == "NOT_REDRIVEN":
        return [e for e in executions if redrives_of(e).count == 0]
    return list(executions)


def apply() -> None:
    sfn_worker.ExecutionWorker._get_evaluation_environment = _environment_with_redrive_count  # type: ignore[method-assign]
    StepFunctionResponse.redrive_execution = _redrive_execution_response  # type: ignore[attr-defined]
    StepFunctionResponse.describe_execution = _describe_execution_response  # type: ignore[method-assign]
    StepFunctionResponse.list_executions = _list_executions_response  # type: ignore[method-assign]
    StepFunctionsParserBackend.list_executions = list_executions  # type: ignore[method-assign]
