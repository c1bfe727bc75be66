"""Trigger Lambda: SQS batches of S3 events in, one StartExecution per object version out."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.runtime import sfn_client
from filepipe.trigger import Trigger, is_sqs_batch

logger = Logger(service="filepipe-trigger")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = Trigger(
        sfn_client(),
        os.environ["STATE_MACHINE_ARN"],
        log=logger,
        express_arn=os.environ.get("EXPRESS_STATE_MACHINE_ARN") or None,
        express_max_bytes=int(os.environ.get("LARGE_FILE_THRESHOLD_BYTES", "0")),
    ).handle(event)
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
