"""Speed patches: moto made faster where its cost grows with sizes the pipeline reaches. None
changes an answer; ``bench/adapter_speed.py`` measures each against moto's own code."""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from moto.core.utils import unix_time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.sqs import models as sqs_models
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.exceptions import ExecutionAlreadyExists
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.utils import json_path as sfn_json_path

from filepipe.local.adapter import express

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


# -- Step Functions engine: per-execution overheads --------------------------------------------
# For every execution the engine parses the definition with ANTLR and builds its evaluation
# components again, and for every JSONPath it compiles the path again. Under a burst these were
# a large share of the local cloud's CPU. The patches below keep the results: the evaluation
# components of a definition (they hold no per-execution state: that lives in each execution's
# Environment, keyed by the components' heap keys, which are fixed here before the components
# are shared), and the compiled paths. What an execution does is unchanged.

_original_parse = asl_parser.AmazonStateLanguageParser.parse
_parse_below: list[Any] = [_original_parse]
"""What the kept parse runs: moto's, or the fidelity patch installed over it (``item_batcher``)."""


def _uncached_parse(definition: str) -> tuple[Any, Any]:
    return _parse_below[0](definition)


@functools.lru_cache(maxsize=64)
def _parse(definition: str) -> tuple[Any, Any]:
    program, tree = _uncached_parse(definition)
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


_original_json_path_parse = sfn_json_path.parse


# -- the server's per-request overheads ---------------------------------------------------------
# To route each request moto's server lists its own package directory (``os.listdir`` and an
# ``isdir`` for each of ~150 services) while holding the dispatcher's lock. SQS computes all of a
# queue's attributes, counting every message in the queue, to read a single one: for each
# received message (its retention period) and for each message sent (whether the queue
# deduplicates by content). An S3 burst into the intake queue was quadratic in its size. The
# answers do not change between calls, so the first is remembered per host, and the others read
# the one attribute they need.

_original_backend_for_host = DomainDispatcherApplication.get_backend_for_host


_original_retention_check = sqs_models.SQSBackend.is_message_valid_based_on_retention_period


def _is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    retention = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention + message.sent_timestamp / 1000 > unix_time())


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


# -- Step Functions: finding an execution -------------------------------------------------------
# moto finds an execution by scanning its state machine's list: for every DescribeExecution (twice
# per call, with the redrive fields), GetExecutionHistory, and the name check of every
# StartExecution. A backfill of 10,000 objects starts 10,000 executions, so each lookup grew with
# the run and the run's cost with its square. A machine's list only grows (StartExecution appends),
# so an index of it, extended from where it stopped, finds what the scan finds: the first
# execution with that ARN or name.


class _ExecutionIndex:
    def __init__(self, executions: list[Any]) -> None:
        self.executions = executions
        self.seen = 0
        self.by_arn: dict[str, Any] = {}
        self.by_name: dict[str, Any] = {}
        self.lock = threading.Lock()

    def catch_up(self) -> None:
        with self.lock:
            for execution in self.executions[self.seen :]:
                self.by_arn.setdefault(execution.execution_arn, execution)
                self.by_name.setdefault(execution.name, execution)
            self.seen = max(self.seen, len(self.executions))


_indexes: weakref.WeakKeyDictionary[Any, _ExecutionIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def execution_index(machine: Any) -> _ExecutionIndex:
    """The machine's index, brought up to date (rebuilt if its list was replaced or shrank)."""
    with _indexes_lock:
        index = _indexes.get(machine)
        if index is None or index.executions is not machine.executions or len(machine.executions) < index.seen:
            index = _indexes[machine] = _ExecutionIndex(machine.executions)
    index.catch_up()
    return index


_original_describe_execution = express._original_describe_execution
_original_idempotency = sfn_models.StateMachine._handle_name_input_idempotency


def _describe_execution(self: Any, execution_arn: str) -> Any:
    self._validate_execution_arn(execution_arn)
    machine = self._get_state_machine_for_execution(execution_arn)
    found = execution_index(machine).by_arn.get(execution_arn)
    return found if found is not None else _original_describe_execution(self, execution_arn)


def _handle_name_input_idempotency(self: Any, name: str, execution_input: str) -> Any:
    execution = execution_index(self).by_name.get(name)
    if execution is None:
        return None
    if execution_input == execution.execution_input and execution.status == "RUNNING":
        return execution
    raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.execution_arn + "'")


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swap:
    """One attribute of moto's, and what stands in its place while the patch is on."""

    owner: Any
    name: str
    replacement: Any
    original: Any


@dataclass(frozen=True)
class SpeedPatch:
    name: str
    swaps: tuple[Swap, ...]

    def apply(self) -> None:
        for swap in self.swaps:
            setattr(swap.owner, swap.name, swap.replacement)

    def revert(self) -> None:
        """moto's own code again (the benchmark measures each patch against it)."""
        for swap in self.swaps:
            setattr(swap.owner, swap.name, swap.original)


PATCHES: tuple[SpeedPatch, ...] = (
    SpeedPatch(
        "ranged-get",
        (
            Swap(s3_models.FakeKey, "value", property(_value, _original_value.fset), _original_value),  # type: ignore[attr-defined]
            Swap(s3_responses.S3Response, "_key_response_get", _key_response_get, _original_key_response_get),
        ),
    ),
    SpeedPatch(
        "engine-parse-once",
        (Swap(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(_parse), staticmethod(_uncached_parse)),),
    ),
    SpeedPatch(
        "engine-json-path-cache",
        (
            Swap(
                sfn_json_path,
                "parse",
                functools.lru_cache(maxsize=1024)(_original_json_path_parse),
                _original_json_path_parse,
            ),
        ),
    ),
    SpeedPatch(
        "backend-lookup-cache",
        (
            Swap(
                DomainDispatcherApplication,
                "get_backend_for_host",
                functools.lru_cache(maxsize=256)(_original_backend_for_host),
                _original_backend_for_host,
            ),
        ),
    ),
    SpeedPatch(
        "execution-index",
        (
            Swap(express, "_original_describe_execution", _describe_execution, _original_describe_execution),
            Swap(
                sfn_models.StateMachine,
                "_handle_name_input_idempotency",
                _handle_name_input_idempotency,
                _original_idempotency,
            ),
        ),
    ),
    SpeedPatch(
        "sqs-retention-check",
        (
            Swap(
                sqs_models.SQSBackend,
                "is_message_valid_based_on_retention_period",
                _is_message_valid_based_on_retention_period,
                _original_retention_check,
            ),
        ),
    ),
    SpeedPatch(
        "sqs-send-attributes",
        (
            Swap(sqs_models.SQSBackend, "send_message", _send_message, _original_send_message),
            Swap(sqs_models.Queue, "attributes", property(_queue_attributes), _original_queue_attributes),
        ),
    ),
)
"""Every speed patch, by name (``bench/adapter_speed.py --only NAME`` measures one)."""


def apply() -> None:
    """After the fidelity patches: the kept parse is of what they installed."""
    _parse_below[0] = asl_parser.AmazonStateLanguageParser.parse
    for patch in PATCHES:
        patch.apply()
