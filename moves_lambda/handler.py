"""Moves Lambda: the workflow's two endings, archive and move-to-failed (with the failed
execution's last step, which a Redrive turns into processing again); and the way back, an
archived original sent into staging again when an older transform made its output (reprocess).

Each records the file's outcome as a metric (Powertools Metrics, CloudWatch's embedded metric
format): files by outcome, tier and path, and their bytes.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.claims import Claims, ExecutionId, history_of
from filepipe.errors import classified
from filepipe.events import execution_name
from filepipe.moves import Verdict, archive, deliver, move_to_failed
from filepipe.reports import transform_summary
from filepipe.reprocess import parse_reprocess_batch, reprocess_batch
from filepipe.runtime import TaskRequest, copy_deadline, dynamodb_client, s3_client, settings, sfn_client

archive_logger = Logger(service="filepipe-archive")
failure_logger = Logger(service="filepipe-failure")
archive_metrics = Metrics(namespace="filepipe", service="filepipe-archive")
failure_metrics = Metrics(namespace="filepipe", service="filepipe-failure")
reprocess_logger = Logger(service="filepipe-reprocess")
reprocess_metrics = Metrics(namespace="filepipe", service="filepipe-reprocess")


@archive_metrics.log_metrics
@archive_logger.inject_lambda_context
def archive_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = TaskRequest.parse(event)
    archive_logger.thread_safe_append_keys(
        key=request.ref.key, versionId=request.ref.version_id, execution=request.execution
    )
    with classified(f"archiving {request.ref.key}"):
        outcome = archive(
            s3_client(),
            request.ref,
            settings(),
            request.execution,
            stop_by=copy_deadline(context, settings(), request),
            copying=request.copying("archived"),
        )
        summary = transform_summary(s3_client(), request.ref, settings(), request.transformed)
    if outcome.status == "copying":
        archive_logger.info("copy in parts goes on", extra=outcome.to_dict())
        return outcome.to_dict() | {"summary": summary}
    count_file(archive_metrics, request, outcome.status)
    archive_logger.info("archive done", extra=outcome.to_dict())
    return outcome.to_dict() | {"summary": summary}


@failure_metrics.log_metrics
@failure_logger.inject_lambda_context
def failure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "verdict" in event:
        return report_failure(event["verdict"])
    request = TaskRequest.parse(event)
    failure_logger.thread_safe_append_keys(
        key=request.ref.key, versionId=request.ref.version_id, execution=request.execution
    )
    with classified(f"moving {request.ref.key} to the failure prefix"):
        outcome = move_to_failed(
            s3_client(),
            request.ref,
            settings(),
            error=str(request.error.get("Error", "Unknown")),
            cause=str(request.error.get("Cause", "")),
            execution=request.execution,
            history=history_of(request.execution, os.environ.get("EXPRESS_LOG_GROUP")),
            stop_by=copy_deadline(context, settings(), request),
            copying=request.copying("failed"),
        )
        if outcome.status == "copying":
            failure_logger.info("copy in parts goes on", extra=outcome.to_dict())
            return outcome.to_dict()
        table = os.environ.get("CLAIMS_TABLE")
        if table and request.execution:
            Claims(dynamodb_client(), table).release(execution_name(request.ref), request.execution)
    count_file(failure_metrics, request, outcome.status)
    failure_logger.warning("moved to the failure prefix", extra=outcome.to_dict() | {"error": request.error})
    return outcome.to_dict()


def report_failure(event: dict[str, Any]) -> dict[str, Any]:
    """The workflow's ``Failed`` step: the execution fails with the file's error, or (a Redrive
    reran the step) the file is processed again (``filepipe.moves.Verdict``)."""
    verdict = Verdict.parse(event)
    with classified("reporting the failure to Step Functions"):
        outcome = deliver(sfn_client(), verdict)
    failure_logger.info("failure reported", extra={"outcome": outcome, "error": verdict.error})
    return {"status": outcome}


@reprocess_metrics.log_metrics
@reprocess_logger.inject_lambda_context
def reprocess_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A reprocess Map's batch of listed outputs: the originals of outdated ones back to staging."""
    batch = parse_reprocess_batch(event)
    with classified(f"reprocessing {len(batch.output_keys)} output(s) of {batch.transform}"):
        outcomes = reprocess_batch(s3_client(), settings(), batch)
    reprocess_metrics.add_dimension(name="transform", value=batch.transform)
    reprocess_metrics.add_metric(name="FilesReprocessed", unit=MetricUnit.Count, value=len(outcomes["reprocessed"]))
    reprocess_logger.info(
        "reprocess batch done", extra={"transform": batch.transform, "version": batch.version, **outcomes}
    )
    return outcomes


def count_file(metrics: Metrics, request: TaskRequest, outcome: str) -> None:
    """One file's ending: ``Files`` by outcome, tier (express/standard) and path (lambda/batch)."""
    express = request.execution is not None and ExecutionId(request.execution).express
    metrics.add_dimension(name="tier", value="express" if express else "standard")
    metrics.add_dimension(name="path", value="batch" if "jobId" in request.transformed else "lambda")
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="Files", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Bytes", unit=MetricUnit.Bytes, value=request.ref.size)
