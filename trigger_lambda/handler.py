"""Trigger Lambda: SQS batches of S3 events in, one StartExecution per object version out."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from filepipe.trigger import Trigger, is_sqs_batch

logger = Logger(service="filepipe-trigger")


@cache
def _trigger() -> Trigger:
    sfn = boto3.client("stepfunctions", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    return Trigger(sfn, os.environ["STATE_MACHINE_ARN"], log=logger)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = _trigger().handle(event)
    logger.info(
        "invocation done",
        extra={
            "started": len(report.started),
            "duplicates": len(report.duplicates),
            "ignored": report.ignored,
            "failedMessages": report.failed_message_ids,
        },
    )
    if is_sqs_batch(event):
        return report.batch_response()
    return {"started": report.started, "duplicates": report.duplicates, "ignored": report.ignored}
