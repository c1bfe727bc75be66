"""Moves Lambda: the workflow's two endings, archive and move-to-failed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.errors import classified
from filepipe.moves import archive, move_to_failed
from filepipe.reports import transform_summary
from filepipe.runtime import TaskRequest, s3_client, settings

archive_logger = Logger(service="filepipe-archive")
failure_logger = Logger(service="filepipe-failure")


@archive_logger.inject_lambda_context
def archive_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = TaskRequest.parse(event)
    archive_logger.thread_safe_append_keys(
        key=request.ref.key, versionId=request.ref.version_id, execution=request.execution
    )
    with classified(f"archiving {request.ref.key}"):
        outcome = archive(s3_client(), request.ref, settings(), request.execution)
        summary = transform_summary(s3_client(), request.ref, settings(), request.transformed)
    archive_logger.info("archive done", extra=outcome.to_dict())
    return outcome.to_dict() | {"summary": summary}


@failure_logger.inject_lambda_context
def failure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
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
        )
    failure_logger.warning("moved to the failure prefix", extra=outcome.to_dict() | {"error": request.error})
    return outcome.to_dict()
