"""Transformer Lambda: runs the object's transform on the small-file path."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.processing import process
from filepipe.runtime import TaskRequest, s3_client, settings

logger = Logger(service="filepipe-transform")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = TaskRequest.parse(event)
    logger.thread_safe_append_keys(key=request.ref.key, versionId=request.ref.version_id, execution=request.execution)
    outcome = process(s3_client(), request.ref, settings(), request.execution)
    logger.info("transform done", extra=outcome.to_dict())
    return outcome.to_dict()
