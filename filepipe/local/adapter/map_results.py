"""Fidelity patch: a Distributed Map's ``ResultWriter`` writes what each child did, as Step
Functions does (canary in ``tests/local/test_moto_adapter.py``).

moto's writer puts only an empty ``manifest.json`` ("TODO: generate result files"), so whatever
reads a Map Run's results (``filepipe backfill``'s counts) would find nothing. Here each child's
outcome is kept as it ends, and the writer puts ``SUCCEEDED_0.json`` and ``FAILED_0.json``
beside the manifest: arrays of ``{ExecutionArn, Name, Input, Output | Error + Cause, Status,
StartDate, StopDate, ...}`` with ``Input`` and ``Output`` as JSON strings, as AWS writes them
(``Transformation: NONE``, the default with a ``ResultWriter``).

Outcomes are kept by item index (:func:`outcomes`): a redriven Map Run (``map_redrive``) reruns
the items that did not succeed, and each rerun item's entry is replaced, keeping its child's
name and ARN with its ``RedriveCount`` counted, as a redriven child execution keeps its own.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as sfn_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as sfn_result_writer,
)
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped

_original_eval_job = sfn_worker.DistributedItemProcessorWorker._eval_job
_original_put_object = sfn_result_writer.ResourceEvalS3._handle_put_object
_lock = threading.Lock()


def _eval_job(self: Any, env: Any, job: Any) -> None:
    started = _now()
    _original_eval_job(self, env, job)
    state = env.program_state()
    status, details = "SUCCEEDED", {"Output": json.dumps(job.job_output, default=str)}
    if job.job_output is None:
        status = "ABORTED" if isinstance(state, ProgramStopped) else "FAILED"
        error = (state.error or {}) if isinstance(state, ProgramError) else {}
        details = {"Error": str(error.get("error", "States.Runtime")), "Cause": str(error.get("cause", ""))}
    record = self._map_run_record
    with _lock:
        kept = outcomes(record)
        earlier = kept.get(job.job_index)
        name = earlier["Name"] if earlier else str(uuid.uuid4())
        kept[job.job_index] = {
            "ExecutionArn": f"{record.map_run_arn.replace(':mapRun:', ':execution:', 1).rsplit(':', 1)[0]}:{name}",
            "Name": name,
            "Input": json.dumps(job.job_input, default=str),
            "InputDetails": {"Included": True},
            "StateMachineArn": record.map_state_machine_arn,
            "Status": status,
            "StartDate": started,
            "StopDate": _now(),
            "RedriveCount": earlier["RedriveCount"] + 1 if earlier else 0,
            **details,
        }


def outcomes(record: Any) -> dict[int, dict[str, Any]]:
    """A Map Run's child outcomes so far, by item index (the record keeps them)."""
    kept: dict[int, dict[str, Any]] | None = getattr(record, "filepipe_results", None)
    if kept is None:
        kept = {}
        record.filepipe_results = kept
    return kept


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """moto's writer (the manifest and the state's output), then the result files it leaves out,
    and the manifest again listing them."""
    parameters = dict(env.stack[-1])
    record = env.map_run_record_pool_manager.get_all()[-1]
    _original_put_object(env, resource_runtime_part, state_credentials)
    details = env.stack[-1]["ResultWriterDetails"]
    prefix = details["Key"].rsplit("/", 1)[0]
    s3 = sfn_result_writer.ResourceEvalS3._get_s3_client(resource_runtime_part, state_credentials)
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    with _lock:
        results = [entry for _, entry in sorted(outcomes(record).items())]
    for status in ("SUCCEEDED", "FAILED"):
        mine = [r for r in results if r["Status"] == status or (status == "FAILED" and r["Status"] == "ABORTED")]
        if not mine:
            continue
        body = json.dumps(mine).encode("utf-8")
        key = f"{prefix}/{status}_0.json"
        s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": record.map_run_arn, "ResultFiles": files}
    s3.put_object(Bucket=parameters["Bucket"], Key=details["Key"], Body=json.dumps(manifest, indent=2).encode())


def apply() -> None:
    sfn_worker.DistributedItemProcessorWorker._eval_job = _eval_job  # type: ignore[method-assign]
    sfn_result_writer.ResourceEvalS3._handle_put_object = staticmethod(_handle_put_object)  # type: ignore[method-assign]
