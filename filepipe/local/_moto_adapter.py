"""Every place the local cloud leans on moto's internals, in one module.

Each patch names the moto behaviour it works around; ``tests/local/test_moto_adapter.py`` checks
that the behaviour is still there, so a moto upgrade that fixes (or changes) it fails loudly
instead of silently double-patching. Nothing here changes the workflow's logic. The patches that
make moto enforce IAM as AWS does live beside this module, in ``_moto_iam.py``, applied from here.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import boto3
import botocore.session
from botocore.config import Config
from moto.core.exceptions import AWSError
from moto.core.utils import unix_time
from moto.logs.models import logs_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3 import models as s3_models
from moto.s3 import notifications as s3_notifications
from moto.s3 import responses as s3_responses
from moto.sqs import models as sqs_models
from moto.stepfunctions.exceptions import InvalidArn, InvalidExecutionInput
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails, StateMachineType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as sfn_item_reader,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as sfn_distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils as sfn_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_batch as sfn_batch,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn as sfn_sfn,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
from moto.stepfunctions.parser.asl.utils import json_path as sfn_json_path
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from filepipe.local import _moto_iam

_applied = False
_lock = threading.Lock()
_last_sequencer = 0


def apply() -> None:
    """Install the patches (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        _patch_s3_event_versions()
        _patch_eventbridge_s3_events()
        _patch_batch_parameter_casing()
        _patch_batch_sync_abort()
        _patch_copy_checksum_type()
        _patch_copy_if_none_match()
        _patch_ranged_get()
        _patch_engine_parse_once()
        _patch_engine_client_reuse()
        _patch_engine_json_path_cache()
        _patch_backend_lookup_cache()
        _patch_sqs_retention_check()
        _patch_sqs_send_attributes()
        _patch_express_executions()
        _patch_map_run_failure_tolerance()
        _moto_iam.apply()
        _applied = True


def next_sequencer() -> str:
    """A strictly increasing hexadecimal sequencer, like S3's (comparable per key)."""
    global _last_sequencer
    with _lock:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:020X}"


# -- S3 notifications ------------------------------------------------------------------------
# moto's S3 events carry key, size and eTag but no versionId and no sequencer, which AWS sends
# for every ObjectCreated event on a versioned bucket. Without them the pipeline could not
# archive exactly the uploaded version.

_original_get_s3_event = s3_notifications._get_s3_event


def _get_s3_event_with_version(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _original_get_s3_event(event_name, bucket, key, notification_id)
    obj = event["Records"][0]["s3"]["object"]
    version = getattr(key, "version_id", None)
    if version and version != "null":
        obj.setdefault("versionId", version)
    obj.setdefault("sequencer", next_sequencer())
    return event


def _patch_s3_event_versions() -> None:
    s3_notifications._get_s3_event = _get_s3_event_with_version


# -- S3 events through EventBridge ----------------------------------------------------------------
# moto's "Object Created" events for EventBridge carry the key as it is (AWS URL-encodes it, as in
# S3 notifications; Powertools decodes it) and one fixed sequencer for every event (AWS's grows
# per key). Keys with "+" or "%" would be misread, and versions of one key could not be ordered.

_original_send_event_bridge_message = s3_notifications._send_event_bridge_message


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    try:
        from moto.events.models import events_backends
    except ImportError:  # pragma: no cover - moto[server] brings events
        return
    name = str(getattr(event_name, "value", event_name))
    version = getattr(key, "version_id", None)
    detail_object = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "etag": str(key.etag).strip('"'),
        "sequencer": next_sequencer(),
    }
    if version and version != "null":
        detail_object["version-id"] = version
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),  # moto's EventBridge formats it on delivery
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "reason": name.split(":")[1] if ":" in name else name,
        },
    }
    backend = events_backends[account_id][bucket.region_name]
    for event_bus in backend.event_buses.values():
        for rule in event_bus.rules.values():
            with contextlib.suppress(Exception):  # asynchronous in AWS: a failed delivery never fails the PUT
                rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]


def _patch_eventbridge_s3_events() -> None:
    s3_notifications._send_event_bridge_message = _send_event_bridge_message


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
        batch = sfn_batch.boto_client_for(region=region, service="batch", state_credentials=credentials)
        batch.terminate_job(jobId=job_id, reason=_ABORTED.format(execution))
    return result


def _patch_batch_sync_abort() -> None:
    sfn_batch.StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver  # type: ignore[method-assign]
    sfn_batch.StateTaskServiceBatch._eval_sync = _eval_sync  # type: ignore[method-assign]


# -- S3 CopyObject of a multipart object ------------------------------------------------------
# A multipart upload with checksums gets a COMPOSITE checksum ("…-3"); moto's CopyObject copies
# its value but not its type and part count, so the copy answers GETs with a bare composite value
# that botocore then validates as a full-object checksum and rejects. S3 never does that.

_original_copy_object = s3_models.S3Backend.copy_object


def _copy_object_keeping_checksum_type(
    self: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str, *args: Any, **kwargs: Any
) -> Any:
    result = _original_copy_object(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
    if getattr(src_key, "checksum_value", None):
        copied = self.get_object(dest_bucket_name, dest_key_name)
        if copied is not None:
            copied.checksum_type = src_key.checksum_type
            copied.checksum_parts = src_key.checksum_parts
    return result


def _patch_copy_checksum_type() -> None:
    s3_models.S3Backend.copy_object = _copy_object_keeping_checksum_type  # type: ignore[method-assign]


# S3 copies only when the destination key has no current version if the request says
# ``If-None-Match: *`` (412 PreconditionFailed otherwise), as PutObject does; moto honours it on
# PutObject and CompleteMultipartUpload but copies over the key regardless.

_original_copy_object_response = s3_responses.S3Response.copy_object


def _copy_object_if_none_match(self: Any) -> Any:
    if self.headers.get("If-None-Match") == "*" and self.backend.get_object(self.bucket_name, self.parse_key_name()):
        raise s3_responses.PreconditionFailed("If-None-Match")
    return _original_copy_object_response(self)


def _patch_copy_if_none_match() -> None:
    s3_responses.S3Response.copy_object = _copy_object_if_none_match  # type: ignore[method-assign]


# -- S3 ranged GET -----------------------------------------------------------------------------
# moto answers a ranged GET by reading (and copying) the whole object, then slicing: reading a
# file in 8 MiB ranges costs time quadratic in its size, which makes multi-GiB files unusable
# locally. During a ranged GET, the key's value is handed out as a view that reads only the
# slice asked for.

_ranged = threading.local()
_original_value = s3_models.FakeKey.value
_original_key_response_get = s3_responses.S3Response._key_response_get
_CHUNK = 1 << 20


class _RangeView:
    """Just enough of ``bytes`` for moto's range handling: ``len`` and one slice."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __len__(self) -> int:
        return int(self._key.size)

    def __getitem__(self, window: slice) -> bytes:
        start, stop, _ = window.indices(len(self))
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return bytes(self._key._value_buffer.read(max(stop - start, 0)))

    def __iter__(self) -> Any:
        for start in range(0, len(self), _CHUNK):
            yield self[start : start + _CHUNK]


def _value(self: Any) -> Any:
    if getattr(_ranged, "active", False):
        return _RangeView(self)
    return _original_value.fget(self)  # type: ignore[attr-defined]


def _key_response_get(self: Any, *args: Any, **kwargs: Any) -> Any:
    headers = {k.lower(): v for k, v in self.headers.items()}
    simple_range = headers.get("range", "").startswith("bytes=") and "," not in headers.get("range", "")
    _ranged.active = simple_range and "partNumber" not in self.querystring
    try:
        return _original_key_response_get(self, *args, **kwargs)
    finally:
        _ranged.active = False


def _patch_ranged_get() -> None:
    s3_models.FakeKey.value = property(_value, _original_value.fset)  # type: ignore[assignment, method-assign, attr-defined]
    s3_responses.S3Response._key_response_get = _key_response_get  # type: ignore[method-assign]


# -- Step Functions engine: per-execution overheads --------------------------------------------
# For every execution the engine parses the definition with ANTLR and builds its evaluation
# components again, for every task state it builds a new boto3 client (botocore loads and
# indexes the service model each time), and for every JSONPath it compiles the path again.
# Under a burst these were over half of the local cloud's CPU. The patches below keep the
# results: the evaluation components of a definition (they hold no per-execution state: that
# lives in each execution's Environment, keyed by the components' heap keys, which are fixed
# here before the components are shared), one client per service and region, and the compiled
# paths. What an execution does is unchanged.

_original_parse = asl_parser.AmazonStateLanguageParser.parse


@functools.lru_cache(maxsize=64)
def _parse(definition: str) -> tuple[Any, Any]:
    program, tree = _original_parse(definition)
    for component in components_of(program):
        _ = component.heap_key  # assigned now, before other threads share the component
    return program, tree


def components_of(root: Any) -> list[Any]:
    """Every evaluation component reachable from ``root``."""
    found: dict[int, Any] = {}
    pending = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, Component) and id(item) not in found:
            found[id(item)] = item
            pending.extend(vars(item).values())
    return [item for item in found.values() if isinstance(item, EvalComponent)]


def _patch_engine_parse_once() -> None:
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]


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
        session._credentials = _role_credentials(role_arn)
    except LookupError:
        # No such role: Step Functions could not assume it, and every call is refused.
        session.set_credentials("ak", "sk")
    return boto3.Session(botocore_session=session).client(
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


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """The engine's client, built once per service, region and role (boto3 clients are
    thread-safe), signing as the role the task runs with."""
    if sfn_boto_client.botocore_stubber.enabled:
        return _original_boto_client_for(region, service, state_credentials)
    role_arn = getattr(state_credentials, "role_arn", None) if _role_credentials is not None else None
    return _shared_client(region, service, f"http://localhost:{sfn_boto_client.moto_server_port()}", role_arn)


def _patch_engine_client_reuse() -> None:
    for module in (sfn_lambda, sfn_batch, sfn_sfn, sfn_item_reader):
        module.boto_client_for = _boto_client_for  # type: ignore[attr-defined]


def _patch_engine_json_path_cache() -> None:
    sfn_json_path.parse = functools.lru_cache(maxsize=1024)(sfn_json_path.parse)


# -- the server's per-request overheads ---------------------------------------------------------
# To route each request moto's server lists its own package directory (``os.listdir`` and an
# ``isdir`` for each of ~150 services) while holding the dispatcher's lock. SQS computes all of a
# queue's attributes, counting every message in the queue, to read a single one: for each
# received message (its retention period) and for each message sent (whether the queue
# deduplicates by content). An S3 burst into the intake queue was quadratic in its size. The
# answers do not change between calls, so the first is remembered per host, and the others read
# the one attribute they need.

_original_backend_for_host = DomainDispatcherApplication.get_backend_for_host


def _patch_backend_lookup_cache() -> None:
    cached = functools.lru_cache(maxsize=256)(_original_backend_for_host)
    DomainDispatcherApplication.get_backend_for_host = cached  # type: ignore[method-assign]


_original_retention_check = sqs_models.SQSBackend.is_message_valid_based_on_retention_period


def _is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    retention = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention + message.sent_timestamp / 1000 > unix_time())


def _patch_sqs_retention_check() -> None:
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        _is_message_valid_based_on_retention_period
    )


_sending = threading.local()
_original_send_message = sqs_models.SQSBackend.send_message
_original_queue_attributes = sqs_models.Queue.attributes


def _send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
    _sending.active = True
    try:
        return _original_send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


def _queue_attributes(self: Any) -> dict[str, Any]:
    """While sending, the one attribute the send reads (as the full set renders it)."""
    if getattr(_sending, "active", False):
        if self.fifo_queue and self.content_based_deduplication is not None:
            return {"ContentBasedDeduplication": str(bool(self.content_based_deduplication)).lower()}
        return {}
    return _original_queue_attributes.fget(self)  # type: ignore[attr-defined]


def _patch_sqs_send_attributes() -> None:
    sqs_models.SQSBackend.send_message = _send_message  # type: ignore[method-assign]
    sqs_models.Queue.attributes = property(_queue_attributes)  # type: ignore[assignment, method-assign]


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
    execution.express_log_group = _log_group_of(machine)  # type: ignore[attr-defined]
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


def _list_executions(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
    if _is_express(self.describe_state_machine(state_machine_arn)):
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    return _original_list_executions(self, state_machine_arn, *args, **kwargs)


def _log_group_of(machine: Any) -> str | None:
    """The log group an Express machine's logging configuration names (level ALL), if any."""
    config = getattr(machine, "loggingConfiguration", None) or {}
    if str(config.get("level", "OFF")).upper() == "OFF":
        return None
    for destination in config.get("destinations", []):
        arn = destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "")
        if ":log-group:" in arn:
            return str(arn.split(":log-group:", 1)[1].removesuffix(":*"))
    return None


def express_log_events(execution: Any) -> list[dict[str, Any]]:
    """An execution's history as Step Functions logs an Express execution's events."""
    events = []
    for event in execution.to_history_output()["events"]:
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        timestamp = event["timestamp"]
        if not isinstance(timestamp, datetime.datetime):
            timestamp = datetime.datetime.fromisoformat(str(timestamp))
        millis = int(timestamp.timestamp() * 1000)
        record = {
            "id": str(event["id"]),
            "type": event["type"],
            "details": details,
            "previous_event_id": str(event.get("previousEventId", 0)),
            "event_timestamp": str(millis),
            "execution_arn": execution.exec_arn,
            "redrive_count": "0",
        }
        events.append({"timestamp": millis, "message": json.dumps(record, default=str)})
    return events


def _terminated(self: Any) -> None:
    _original_terminated(self)
    execution = self.execution
    group = getattr(execution, "express_log_group", None)
    if group is None:
        return
    backend = logs_backends[execution.account_id][execution.region_name]
    stream = f"states/{execution.state_machine.name}/{execution.start_date:%Y-%m-%d}/{uuid.uuid4().hex}"
    try:
        backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, express_log_events(execution))
    except Exception:  # a log group deleted or never made: AWS drops the events too
        return


def _patch_express_executions() -> None:
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_execution = _describe_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.get_execution_history = _get_execution_history  # type: ignore[method-assign]
    StepFunctionsParserBackend.stop_execution = _stop_execution  # type: ignore[method-assign]
    StepFunctionsParserBackend.list_executions = _list_executions  # type: ignore[method-assign,assignment]
    sfn_execution.BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]


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
