"""Fidelity patch: redriving an execution redrives its failed Distributed Map's Map Run, as Step
Functions does (canary in ``tests/local/test_moto_adapter.py``).

In AWS a Map Run that failed is redriven with its parent (``redrive``): the same Map Run ARN,
``MapRunRedriven`` in the parent's history, its ``redriveCount`` counted in DescribeMapRun, and
only the items whose children did not succeed (failed, aborted, timed out, or never started)
run again; the items are the first attempt's, not read again. moto has no redrive: rerun, the
Map state would start a new Map Run over a new listing and every item again. Here the Map Run
is redriven: its successful items keep their results (``map_results``), the tolerated failure
thresholds apply to the whole run again, and its counts are the run's, not the attempt's.

A Map Run that never read its items (its reader was refused) starts as a new Map Run, as AWS
starts one that was never started. Not modelled: a rerun Standard child starts from its first
state (AWS redrives the child execution itself, from its own unsuccessful state); the
pipeline's children are one task each.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    MapRunFailedEventDetails,
    MapRunRedrivenEventDetails,
    MapRunStatus,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as sfn_distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    map_run_record as sfn_map_run,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

from filepipe.local.adapter import map_results, stepfunctions

_original_eval_body = sfn_distributed.DistributedIterationComponent._eval_body
_original_map_run = sfn_distributed.DistributedIterationComponent._map_run
_original_describe = sfn_map_run.MapRunRecord.describe


def offer_for_redrive(pool: Any) -> None:
    """A redrive begins: each Map state whose Map Run did not succeed redrives that run when it
    runs again in this attempt (once: a later entry of the same state starts a new run)."""
    pool.filepipe_redrivable = {
        record.filepipe_state: record
        for record in pool.get_all()
        if record.status != MapRunStatus.SUCCEEDED
        and getattr(record, "filepipe_items", None) is not None
        and getattr(record, "filepipe_state", None) is not None
    }


def _map_run_keeping_items(self: Any, env: Any, eval_input: Any) -> None:
    """Keep the items the Map Run read (its first attempt's), for a redrive to rerun some."""
    eval_input.map_run_record.filepipe_items = list(env.stack[-1])
    _original_map_run(self, env, eval_input)


def _eval_body(self: Any, env: Any) -> None:
    eval_input = env.stack[-1]
    pool = env.map_run_record_pool_manager
    earlier = getattr(pool, "filepipe_redrivable", {}).pop(eval_input.state_name, None)
    if earlier is None:
        eval_input.map_run_record.filepipe_state = eval_input.state_name
        _original_eval_body(self, env)
        return
    env.stack.pop()
    # moto made a new record when the Map state ran again: the Map Run redriven is the earlier one.
    pool._pool.pop(eval_input.map_run_record.map_run_arn, None)
    pool._pool.pop(earlier.map_run_arn, None)
    pool.add(earlier)
    eval_input.map_run_record = earlier
    _redrive(self, env, eval_input, earlier)


def _redrive(self: Any, env: Any, eval_input: Any, record: Any) -> None:
    """moto's ``_eval_body`` for a redriven Map Run: ``MapRunRedriven``, then the items that did
    not succeed, then MapRunSucceeded or MapRunFailed as for a first attempt."""
    record.filepipe_redrive_count = getattr(record, "filepipe_redrive_count", 0) + 1
    record.filepipe_redrive_date = datetime.datetime.now(tz=datetime.UTC)
    record.status, record.stop_date = MapRunStatus.RUNNING, None
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.MapRunRedriven,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
            mapRunRedrivenEventDetails=MapRunRedrivenEventDetails(
                mapRunArn=record.map_run_arn, redriveCount=record.filepipe_redrive_count
            )
        ),
    )
    parent_events = env.event_manager
    try:
        env.event_manager = EventManager()
        _rerun_unsuccessful(self, env, eval_input, record)
    except Exception as exc:
        env.event_manager = parent_events
        details = MapRunFailedEventDetails()
        pair = exc.extract_error_cause_pair() if isinstance(exc, FailureEventException) else None
        if pair:
            error, cause = pair
            if error:
                details["error"] = error
            if cause:
                details["cause"] = cause
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(mapRunFailedEventDetails=details),  # type: ignore[typeddict-item]
        )
        record.set_stop(status=MapRunStatus.FAILED)
        raise
    finally:
        env.event_manager = parent_events
    env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.MapRunSucceeded)
    record.set_stop(status=MapRunStatus.SUCCEEDED)


def _rerun_unsuccessful(self: Any, env: Any, eval_input: Any, record: Any) -> None:
    """Run again the items whose children did not succeed, under their own indices; the Map's
    output is every item's, the earlier successes' included."""
    items: list[Any] = record.filepipe_items
    earlier = map_results.outcomes(record)
    again = [i for i in range(len(items)) if earlier.get(i, {}).get("Status") != "SUCCEEDED"]
    sizes = getattr(record, "filepipe_batch_sizes", None) or [1] * len(items)  # item_batcher's batches
    _count_from(record, len(items) - len(again), sum(sizes) - sum(sizes[i] for i in again))
    if again:
        jobs = JobPool(job_program=self._get_iteration_program(), job_inputs=[items[i] for i in again])
        for job in jobs._open_jobs:
            job.job_index = again[job.job_index]  # type: ignore[misc]  # the item's own index, as AWS keeps it
        concurrency = record.max_concurrency
        workers = len(again) if concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else min(concurrency, len(again))
        for _ in range(workers):
            self._launch_worker(env=env, eval_input=eval_input, job_pool=jobs)
        jobs.await_jobs()
        failure = jobs.get_worker_exception()
        if failure is not None:
            raise failure
    stepfunctions.check_tolerance(env, eval_input)
    now = map_results.outcomes(record)
    env.stack.append(
        [
            json.loads(now[i]["Output"]) if now.get(i, {}).get("Status") == "SUCCEEDED" else None
            for i in range(len(items))
        ]
    )


def _count_from(record: Any, executions: int, items: int) -> None:
    """The run's counts before the rerun children are counted again: its successes only (its
    child executions, and the items they had: more than one each when batched)."""
    for counter, succeeded in ((record.item_counter, items), (record.execution_counter, executions)):
        for name in ("aborted", "failed", "pending", "running", "timed_out"):
            count = getattr(counter, name)
            count.offset(-count.get())
        for name in ("succeeded", "results_written", "total"):
            count = getattr(counter, name)
            count.offset(succeeded - count.get())


def _describe(self: Any) -> Any:
    """DescribeMapRun with the run's ``redriveCount`` (0 until redriven) and ``redriveDate``."""
    described = _original_describe(self)
    described["redriveCount"] = getattr(self, "filepipe_redrive_count", 0)
    if getattr(self, "filepipe_redrive_date", None) is not None:
        # moto's describe carries its dates as strings (startDate, stopDate): so does this one.
        described["redriveDate"] = iso_8601_datetime_with_milliseconds(self.filepipe_redrive_date)  # type: ignore[typeddict-item]
    return described


def apply() -> None:
    """After ``stepfunctions`` (its tolerance check wraps moto's ``_map_run``, which this wraps)."""
    global _original_map_run
    _original_map_run = sfn_distributed.DistributedIterationComponent._map_run
    sfn_distributed.DistributedIterationComponent._map_run = _map_run_keeping_items  # type: ignore[method-assign]
    sfn_distributed.DistributedIterationComponent._eval_body = _eval_body  # type: ignore[method-assign]
    sfn_map_run.MapRunRecord.describe = _describe  # type: ignore[method-assign]
