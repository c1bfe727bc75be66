"""Transformer Lambda: runs the object's transform on the small-file path.

Before anything is written, the execution takes the object version's claim (``filepipe.claims``):
an Express execution may run twice. In an Express execution the transform also stops itself in
time (``WouldNotFit``) for the file to continue on the Standard machine. Both stops are Lambda
errors; only the other errors are counted as ``TransformFailures``, which the alarm watches.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from filepipe.claims import DELIBERATE_STOPS, EXPRESS_TRANSFORM_SECONDS, Claims, ExecutionId
from filepipe.errors import classified
from filepipe.events import execution_name
from filepipe.processing import process
from filepipe.runtime import TaskRequest, dynamodb_client, s3_client, settings
from filepipe.transforms import warm_the_sniffer

logger = Logger(service="filepipe-transform")
metrics = Metrics(namespace="filepipe", service="filepipe-transform")
warm_the_sniffer()  # in the init phase, not on the first file


def express_transform_seconds() -> float:
    """The transform's time in an Express execution; ``EXPRESS_TRANSFORM_SECONDS`` may lower it
    (never raise it: the Express definition's timeouts are cut to the default)."""
    return min(float(os.environ.get("EXPRESS_TRANSFORM_SECONDS", EXPRESS_TRANSFORM_SECONDS)), EXPRESS_TRANSFORM_SECONDS)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = event.get("execution") if isinstance(event, dict) else None
    express = isinstance(execution, str) and ExecutionId(execution).express
    metrics.add_dimension(name="tier", value="express" if express else "standard")
    try:
        return transform(TaskRequest.parse(event), express)
    except DELIBERATE_STOPS:
        raise
    except Exception:
        metrics.add_metric(name="TransformFailures", unit=MetricUnit.Count, value=1)
        raise


def transform(request: TaskRequest, express: bool) -> dict[str, Any]:
    logger.thread_safe_append_keys(key=request.ref.key, versionId=request.ref.version_id, execution=request.execution)
    started = time.monotonic()
    try:
        table = os.environ.get("CLAIMS_TABLE")
        if table and request.execution:
            with classified(f"claiming {request.ref.key}"):
                Claims(dynamodb_client(), table).take(execution_name(request.ref), request.execution, ref=request.ref)
        outcome = process(
            s3_client(),
            request.ref,
            settings(),
            request.execution,
            deadline=started + express_transform_seconds() if express else None,
        )
    finally:
        metrics.add_metric(name="TransformSeconds", unit=MetricUnit.Seconds, value=time.monotonic() - started)
    metrics.add_metric(name="BytesTransformed", unit=MetricUnit.Bytes, value=request.ref.size)
    logger.info("transform done", extra=outcome.to_dict())
    return outcome.to_dict()
