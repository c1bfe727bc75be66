"""Trigger Lambda: SQS batches of S3 events in, one StartExecution per object version out; and a
backfill's (or the sweep's) batches of listed objects, started the same way."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.backfill import is_listing_batch
from filepipe.errors import classified
from filepipe.runtime import s3_client, sfn_client
from filepipe.trigger import Trigger, is_sqs_batch

logger = Logger(service="filepipe-trigger")
metrics = Metrics(namespace="filepipe", service="filepipe-trigger")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = Trigger(
        sfn_client(),
        os.environ["STATE_MACHINE_ARN"],
        log=logger,
        express_arn=os.environ.get("EXPRESS_STATE_MACHINE_ARN") or None,
        express_max_bytes=int(os.environ.get("LARGE_FILE_THRESHOLD_BYTES", "0")),
    )
    if is_listing_batch(event):
        with classified("starting a listing's objects"):
            report = trigger.handle_listing(s3_client(), event)
        reason = str(event["BatchInput"].get("reason") or "backfill")
        metrics.add_dimension(name="reason", value=reason)
        metrics.add_metric(name="FilesStartedFromListing", unit=MetricUnit.Count, value=len(report.started))
        logger.info(
            "listing batch done",
            extra={
                "reason": reason,
                "started": report.started,
                "duplicates": len(report.duplicates),
                "young": len(report.young),
                "gone": len(report.gone),
            },
        )
        return {"started": report.started, "duplicates": report.duplicates, "young": report.young, "gone": report.gone}
    report = trigger.handle(event)
    metrics.add_metric(name="FilesStarted", unit=MetricUnit.Count, value=len(report.started))
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
