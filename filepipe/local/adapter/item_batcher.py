"""Fidelity patch: a Distributed Map's ``ItemBatcher``, as Step Functions runs it (canary in
``tests/local/test_moto_adapter.py``).

moto's grammar has no ``ItemBatcher``: a definition holding one is refused as invalid, so a
listing machine could only hand each child execution one item, which in AWS costs a child
execution (and its state transitions) per object and runs a million-object backfill at a few
objects a second. Step Functions groups the items into batches instead: each child's input is
``{"Items": [...], "BatchInput": {...}}``, with at most ``MaxItemsPerBatch`` items and at most
``MaxInputBytesPerBatch`` bytes (256 KiB at most, and by default), ``BatchInput`` evaluated
against the Map state's input (``"name.$": "$.path"``). The Map Run's item counts count items;
its execution counts, child executions.

Here the definition's ``ItemBatcher`` is taken out before moto parses it and kept on the Map's
evaluation component; when the Map Run has its items, they are grouped so; and a child's items
are counted as items. Not modelled (refused as invalid, rather than run otherwise than AWS):
``MaxItemsPerBatchPath``, ``MaxInputBytesPerBatchPath``, and an ``ItemSelector`` beside an
``ItemBatcher`` (AWS applies it to each item before batching).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as sfn_distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as sfn_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

MAX_BATCH_BYTES = 256 * 1024
"""Step Functions' largest batch (``MaxInputBytesPerBatch``), and the default."""
NOT_MODELLED = ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")

_original_parse = asl_parser.AmazonStateLanguageParser.parse
_original_map_run = sfn_distributed.DistributedIterationComponent._map_run
_original_eval_job = sfn_worker.DistributedItemProcessorWorker._eval_job


@dataclass(frozen=True)
class Batcher:
    """One Map state's ``ItemBatcher``."""

    max_items: int | None
    max_bytes: int
    batch_input: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_definition(cls, state: str, declared: Any) -> Batcher:
        if not isinstance(declared, dict):
            raise ASLParserException([f"{state}: ItemBatcher must be an object"])
        for name in NOT_MODELLED:
            if name in declared:
                raise ASLParserException([f"{state}: ItemBatcher.{name} is not modelled by the local cloud"])
        max_items, max_bytes = declared.get("MaxItemsPerBatch"), declared.get("MaxInputBytesPerBatch")
        if max_items is None and max_bytes is None:
            raise ASLParserException([f"{state}: ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch"])
        for name, value, largest in (
            ("MaxItemsPerBatch", max_items, None),
            ("MaxInputBytesPerBatch", max_bytes, MAX_BATCH_BYTES),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1 or (largest and value > largest)
            ):
                raise ASLParserException([f"{state}: ItemBatcher.{name} must be a positive integer (got {value!r})"])
        batch_input = declared.get("BatchInput", {})
        if not isinstance(batch_input, dict):
            raise ASLParserException([f"{state}: ItemBatcher.BatchInput must be an object"])
        return cls(max_items, max_bytes or MAX_BATCH_BYTES, batch_input)

    def batches(self, items: list[Any], state_input: Any) -> list[dict[str, Any]]:
        """``items`` in order, grouped: each batch as full as both limits allow."""
        batch_input = _evaluate(self.batch_input, state_input)
        overhead = len(json.dumps({"Items": [], "BatchInput": batch_input}))
        batches: list[dict[str, Any]] = []
        current: list[Any] = []
        size = overhead
        for item in items:
            item_size = len(json.dumps(item, default=str)) + 2  # and its separator
            full = self.max_items is not None and len(current) >= self.max_items
            if current and (full or size + item_size > self.max_bytes):
                batches.append({"Items": current, "BatchInput": batch_input})
                current, size = [], overhead
            current.append(item)
            size += item_size
        if current:
            batches.append({"Items": current, "BatchInput": batch_input})
        return batches


def _evaluate(template: dict[str, Any], state_input: Any) -> dict[str, Any]:
    """A payload template: ``"name.$": "$.path"`` takes the path's value from the state input."""
    result: dict[str, Any] = {}
    for name, value in template.items():
        if name.endswith(".$") and isinstance(value, str):
            result[name[:-2]] = extract_json(value, state_input)
        elif isinstance(value, dict):
            result[name] = _evaluate(value, state_input)
        else:
            result[name] = value
    return result


def _take_batchers(states: Any, found: dict[str, Batcher]) -> None:
    """Remove each Map state's ItemBatcher from a definition's ``States`` (at any depth)."""
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Map" and "ItemBatcher" in state:
            if "ItemSelector" in state:
                raise ASLParserException([f"{name}: an ItemSelector beside an ItemBatcher is not modelled"])
            found[name] = Batcher.from_definition(name, state.pop("ItemBatcher"))
        for nested in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(nested), dict):
                _take_batchers(state[nested].get("States"), found)
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict):
                _take_batchers(branch.get("States"), found)


def _parse(definition: str) -> tuple[Any, Any]:
    try:
        document = json.loads(definition)
    except ValueError:
        return _original_parse(definition)  # moto reports what is wrong with it
    found: dict[str, Batcher] = {}
    _take_batchers(document.get("States") if isinstance(document, dict) else None, found)
    if not found:
        return _original_parse(definition)
    program, tree = _original_parse(json.dumps(document))
    for state in _map_states(program):
        if state.name in found:
            component: Any = state.iteration_component
            component.filepipe_batcher = found[state.name]
    return program, tree


def _map_states(root: Any) -> list[StateMap]:
    """Every Map state of a parsed program, at any depth."""
    found: dict[int, StateMap] = {}
    pending, seen = [root], set()
    while pending:
        item = pending.pop()
        if id(item) in seen or item is None or isinstance(item, (str, int, float, bool)):
            continue
        seen.add(id(item))
        if isinstance(item, StateMap):
            found[id(item)] = item
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("moto.stepfunctions"):
            pending.extend(vars(item).values())
    return list(found.values())


def _map_run(self: Any, env: Any, eval_input: Any) -> None:
    batcher: Batcher | None = getattr(self, "filepipe_batcher", None)
    if batcher is not None:
        batches = batcher.batches(list(env.stack.pop()), env.states.get_input())
        eval_input.map_run_record.filepipe_batch_sizes = [len(batch["Items"]) for batch in batches]
        env.stack.append(batches)
    _original_map_run(self, env, eval_input)


class _Scaled:
    """A Map Run counter that counts a batch's items, not the batch."""

    def __init__(self, counter: Any, items: int) -> None:
        self._counter, self._items = counter, items

    def count(self, increment: int = 1) -> None:
        self._counter.count(increment * self._items)

    def offset(self, offset: int) -> None:
        self._counter.offset(offset * self._items)

    def get(self) -> int:
        return int(self._counter.get())


class _ItemsOfBatch:
    """The Map Run's record while a worker runs one batch: its item counters count the batch's
    items; everything else is the record's."""

    def __init__(self, record: Any, items: int) -> None:
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "item_counter", _ScaledProgress(record.item_counter, items))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._record, name, value)


class _ScaledProgress:
    def __init__(self, progress: Any, items: int) -> None:
        self._progress, self._items = progress, items

    def __getattr__(self, name: str) -> Any:
        return _Scaled(getattr(self._progress, name), self._items)


def _eval_job(self: Any, env: Any, job: Any) -> None:
    record = self._map_run_record
    sizes = getattr(record, "filepipe_batch_sizes", None)
    items = sizes[job.job_index] if sizes and job.job_index < len(sizes) else 1
    if items == 1:
        _original_eval_job(self, env, job)
        return
    self._map_run_record = _ItemsOfBatch(record, items)
    try:
        _original_eval_job(self, env, job)
    finally:
        self._map_run_record = record


def apply() -> None:
    """After ``map_redrive`` (a redrive reruns the batches that failed, as kept by it) and
    ``map_results`` (whose record of each child is written through the batch's record)."""
    global _original_parse, _original_map_run, _original_eval_job
    _original_parse = asl_parser.AmazonStateLanguageParser.parse
    _original_map_run = sfn_distributed.DistributedIterationComponent._map_run
    _original_eval_job = sfn_worker.DistributedItemProcessorWorker._eval_job
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]
    sfn_distributed.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]
    sfn_worker.DistributedItemProcessorWorker._eval_job = _eval_job  # type: ignore[method-assign]
