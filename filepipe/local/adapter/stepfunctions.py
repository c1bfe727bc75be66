"""Fidelity patches for Step Functions' engine: service integrations, callbacks, roles and Map
Runs as Step Functions runs them.

Each has a canary in ``tests/local/test_moto_adapter.py``."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from moto.core.responses import EmptyResult
from moto.stepfunctions.exceptions import ResourceNotFound
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as sfn_item_reader,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as sfn_distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as sfn_result_writer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils as sfn_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_batch as sfn_batch,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_sfn,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

# -- Step Functions: batch:submitJob.sync ----------------------------------------------------
# The engine (ported from LocalStack) lost its request/response normalisation: the base
# ``_normalise_parameters`` is a no-op, so ``JobName``/``JobQueue`` reach botocore in
# PascalCase and are dropped, and ``.sync`` cannot read ``JobId`` from the answer. These two
# methods restore what Step Functions does: map the task's parameters onto the Batch API's
# member names, and the API's answers back to Step Functions' casing.


def _operation(service: str, action: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    wanted = action.replace("_", "").lower()
    name = next(op for op in model.operation_names if op.lower() == wanted)
    return model.operation_model(name)


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


_original_sfn_normalise_parameters = sfn_sfn.StateTaskServiceSfn._normalise_parameters


def _sfn_normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """``states:startExecution`` has the same gap: moto serialises ``Input`` and then passes
    ``StateMachineArn``/``Name`` to botocore as they are."""
    _original_sfn_normalise_parameters(self, parameters, boto_service_name, service_action_name)
    _normalise_parameters(self, parameters, boto_service_name, service_action_name)


def _patch_batch_parameter_casing() -> None:
    sfn_batch.StateTaskServiceBatch._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    sfn_batch.StateTaskServiceBatch._normalise_response = _normalise_response  # type: ignore[method-assign]
    sfn_sfn.StateTaskServiceSfn._normalise_parameters = _sfn_normalise_parameters  # type: ignore[method-assign]
    sfn_sfn.StateTaskServiceSfn._normalise_response = _normalise_response  # type: ignore[method-assign]


# -- Step Functions: an aborted batch:submitJob.sync -------------------------------------------
# When a .sync Batch task times out (a job that waits for capacity past TimeoutSeconds) or its
# execution is stopped, Step Functions terminates the job, "The Task state in AWS Step Functions
# execution [...] which was managing this resource was aborted" (the reason the stack grants
# batch:TerminateJob). moto's engine just stops polling and leaves the job queued: it would run
# later, against a version the failure path has already moved. The two methods below remember
# the job each task submitted and terminate it when the task ends without the job's description
# (the engine then answers with a timed-out callback outcome, or nothing).

_ABORTED = "The Task state in AWS Step Functions execution [{}] which was managing this resource was aborted"
_original_build_sync_resolver = sfn_batch.StateTaskServiceBatch._build_sync_resolver
_original_eval_sync = sfn_batch.StateTaskServiceBatch._eval_sync


def _build_sync_resolver(
    self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
) -> Any:
    job_id = env.stack[-1]["JobId"]
    resolver: Any = _original_build_sync_resolver(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    )
    if resolver is not None:
        resolver.batch_job = (job_id, resource_runtime_part.region, state_credentials)
    return resolver


def _eval_sync(self: Any, env: Any, sync_resolver: Any, *args: Any, **kwargs: Any) -> Any:
    result = _original_eval_sync(self, env, sync_resolver, *args, **kwargs)
    job = getattr(sync_resolver, "batch_job", None)
    if job is not None and not env.is_running() and not isinstance(result, dict):
        job_id, region, credentials = job
        execution = env.states.context_object.context_object_data["Execution"]["Id"]
        batch: Any = sfn_batch.boto_client_for(region=region, service="batch", state_credentials=credentials)
        batch.terminate_job(jobId=job_id, reason=_ABORTED.format(execution))
    return result


def _patch_batch_sync_abort() -> None:
    sfn_batch.StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver  # type: ignore[method-assign]
    sfn_batch.StateTaskServiceBatch._eval_sync = _eval_sync  # type: ignore[method-assign]


# -- Step Functions engine: tasks act as the state machine's role ------------------------------
# Step Functions calls each task's service with the state machine's role (or the task's
# ``Credentials``); moto's engine signs with fixed keys, which enforcement would refuse (or, worse,
# let through as someone else). Here each task signs as the role its machine runs with. The
# client is built once per service, region and role: the engine built a new boto3 client for
# every task state (botocore loads and indexes the service model each time), over half of the
# local cloud's CPU under a burst.

_original_boto_client_for = sfn_boto_client.boto_client_for

RoleCredentials = Callable[[str], Any]
"""Role ARN -> botocore credentials (refreshable) of a session of that role."""
_role_credentials: RoleCredentials | None = None


def act_as_roles(credentials: RoleCredentials | None) -> None:
    """Make the engine sign each task's calls as the state machine's role (or the task's
    ``Credentials``), as Step Functions does; None: moto's fixed keys."""
    global _role_credentials
    with _clients_lock:
        _role_credentials = credentials
        _clients.clear()


InvocationGate = Callable[[str], AbstractContextManager[Any]]
"""A function's name or ARN -> where the engine waits before it sends that function an Invoke."""
_invocation_gate: InvocationGate | None = None


def gate_invocations(gate: InvocationGate | None) -> None:
    """Make each Lambda task wait at ``gate`` before its Invoke is sent; None: send at once.
    The local cloud runs a few invocations of a function at a time and queues the rest (AWS
    would run them); queued in the engine, a waiting task holds a thread, where queued in the
    endpoint it held a connection and a server thread too."""
    global _invocation_gate
    with _clients_lock:
        _invocation_gate = gate
        _clients.clear()


class _GatedLambdaClient:
    """The engine's Lambda client, whose Invoke waits its turn at the gate before it is sent."""

    def __init__(self, client: Any, gate: InvocationGate) -> None:
        self._client, self._gate = client, gate

    def invoke(self, **parameters: Any) -> Any:
        with self._gate(str(parameters.get("FunctionName", ""))):
            return self._client.invoke(**parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


_clients: dict[tuple[str, str, str, str | None], Any] = {}
_clients_lock = threading.Lock()


def _shared_client(region: str, service: str, endpoint: str, role_arn: str | None) -> Any:
    """One client per key, made once even when a burst of tasks asks at the same moment (each
    new botocore session loads its service models from disk)."""
    key = (region, service, endpoint, role_arn)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key) or _new_client(*key)
            _clients[key] = client
    return client


def _new_client(region: str, service: str, endpoint: str, role_arn: str | None) -> Any:
    session = botocore.session.get_session()
    try:
        if role_arn is None or _role_credentials is None:
            raise LookupError(role_arn)
        session._credentials = _role_credentials(role_arn)  # type: ignore[attr-defined]  # botocore has no setter
    except LookupError:
        # No such role: Step Functions could not assume it, and every call is refused.
        session.set_credentials("ak", "sk")
    factory: Any = boto3.Session(botocore_session=session)  # any service the engine calls, by name
    client = factory.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=sfn_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=sfn_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=64,
        ),
    )
    gate = _invocation_gate
    return _GatedLambdaClient(client, gate) if service == "lambda" and gate is not None else client


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """The engine's client, built once per service, region and role (boto3 clients are
    thread-safe), signing as the role the task runs with."""
    if sfn_boto_client.botocore_stubber.enabled:
        return _original_boto_client_for(region, service, state_credentials)
    role_arn = getattr(state_credentials, "role_arn", None) if _role_credentials is not None else None
    return _shared_client(region, service, f"http://localhost:{sfn_boto_client.moto_server_port()}", role_arn)


def _patch_engine_client_reuse() -> None:
    for module in (sfn_lambda, sfn_batch, sfn_sfn, sfn_item_reader, sfn_result_writer):
        module.boto_client_for = _boto_client_for  # type: ignore[attr-defined]


# -- Distributed Map failure tolerance ---------------------------------------------------------
# In AWS a Map Run fails (States.ExceedToleratedFailureThreshold) once more of its items failed
# than ToleratedFailureCount / ToleratedFailurePercentage allow, none by default. moto counts the
# failed items but always ends the Map Run SUCCEEDED, so a backfill whose every item was refused
# looked fine. Here the thresholds are applied after the items have run. (A count and a
# percentage of 0 both mean "not set" here: tolerating nothing unless the other is set.)

_original_map_run = sfn_distributed.DistributedIterationComponent._map_run


def exceeds_tolerance(failed: int, total: int, tolerated_count: int, tolerated_percentage: float) -> bool:
    if not tolerated_count and not tolerated_percentage:
        return failed > 0
    over_count = bool(tolerated_count) and failed > tolerated_count
    over_percentage = bool(tolerated_percentage) and total > 0 and failed * 100 / total > tolerated_percentage
    return over_count or over_percentage


def _map_run_within_tolerance(self: Any, env: Any, eval_input: Any) -> None:
    _original_map_run(self, env, eval_input)
    check_tolerance(env, eval_input)


def check_tolerance(env: Any, eval_input: Any) -> None:
    """Fail the Map Run (States.ExceedToleratedFailureThreshold) if more of its items failed
    than it tolerates; a redriven Map Run (``map_redrive``) is held to the same thresholds."""
    counter = eval_input.map_run_record.item_counter
    failed, total = counter.failed.get() + counter.timed_out.get(), counter.total.get()
    if not exceeds_tolerance(
        failed, total, eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
    ):
        return
    error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    raise FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=error.error_name,
                    cause=f"{failed} of {total} items failed, more than the Map Run tolerates",
                )
            ),
        )
    )


def _patch_map_run_failure_tolerance() -> None:
    sfn_distributed.DistributedIterationComponent._map_run = _map_run_within_tolerance  # type: ignore[method-assign]


# -- SendTaskFailure's cause -------------------------------------------------------------------
# A callback task fails with the error and cause SendTaskFailure gives (the pipeline's Failed step
# reports the file's own through it). moto's response reads ``error`` and drops ``cause``, so the
# task and the execution failed with no cause at all.

_original_send_task_failure = StepFunctionResponse.send_task_failure


def _send_task_failure(self: Any) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


# -- Step Functions: DescribeMapRun while executions start ------------------------------------
# moto finds a Map Run by asking every execution's worker, but an execution is listed a moment
# before its worker exists (StartExecution appends, then starts it). A DescribeMapRun or
# UpdateMapRun in that moment, which a burst of starts makes likely, failed with a 500
# (AttributeError). Step Functions answers; so does this, skipping executions not yet running.
# The execution that holds a Map Run is remembered: each lookup was a scan of every execution.

_map_run_owners: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_map_run_owners_lock = threading.Lock()


def _record_held_by(execution: Any, map_run_arn: str) -> Any:
    worker = getattr(execution, "exec_worker", None)
    return worker.env.map_run_record_pool_manager.get(map_run_arn) if worker is not None else None


def map_run_record(backend: Any, map_run_arn: str) -> Any:
    """The Map Run's record, from whichever started execution holds it."""
    with _map_run_owners_lock:
        owner = _map_run_owners.get(map_run_arn)
    record = _record_held_by(owner, map_run_arn) if owner is not None else None
    if record is not None:
        return record
    for execution in backend._get_executions():
        record = _record_held_by(execution, map_run_arn)
        if record is not None:
            with _map_run_owners_lock:
                _map_run_owners[map_run_arn] = execution
            return record
    raise ResourceNotFound(map_run_arn)


_original_describe_map_run = StepFunctionsParserBackend.describe_map_run


def _describe_map_run(self: Any, map_run_arn: str) -> dict[str, Any]:
    return dict(map_run_record(self, map_run_arn).describe())


def _update_map_run(
    self: Any, map_run_arn: str, max_concurrency: int, tolerated_failure_count: str, tolerated_failure_percentage: str
) -> None:
    map_run_record(self, map_run_arn).update(
        max_concurrency=max_concurrency,
        tolerated_failure_count=tolerated_failure_count,
        tolerated_failure_percentage=tolerated_failure_percentage,
    )


def apply() -> None:
    StepFunctionResponse.send_task_failure = _send_task_failure  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_map_run = _describe_map_run  # type: ignore[method-assign]
    StepFunctionsParserBackend.update_map_run = _update_map_run  # type: ignore[method-assign]
    _patch_batch_parameter_casing()
    _patch_batch_sync_abort()
    _patch_engine_client_reuse()
    _patch_map_run_failure_tolerance()


INTERRUPTED = "filepipe.LocalCloudStopped"


def abort_interrupted_executions(cause: str) -> list[str]:
    """End ABORTED every RUNNING execution, with ``ExecutionAborted`` in its history as
    StopExecution records it, so that it can be redriven. Only for executions restored from saved
    state, before anything runs: their worker threads did not survive the restart. Their ARNs."""
    from moto.stepfunctions.parser.api import ExecutionAbortedEventDetails, ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    aborted = []
    for account in stepfunctions_parser_backends.values():
        for backend in account.values():
            for execution in backend._get_executions(ExecutionStatus.RUNNING):
                worker = execution.exec_worker
                if worker is None or worker.env is None:
                    continue
                env = worker.env
                env.set_stop(stop_date=datetime.now(UTC), cause=cause, error=INTERRUPTED)
                env.event_history_context.source_event_id = 0
                env.event_manager.add_event(
                    context=env.event_history_context,
                    event_type=HistoryEventType.ExecutionAborted,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                        executionAbortedEventDetails=ExecutionAbortedEventDetails(error=INTERRUPTED, cause=cause)
                    ),
                )
                worker._execution_communication.terminated()
                aborted.append(execution.exec_arn)
    return aborted
