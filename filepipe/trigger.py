"""S3 notifications in, one idempotent StartExecution per object version out."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from filepipe.backfill import parse_listing_batch, refs_to_start
from filepipe.errors import MalformedEvent, error_code, is_transient
from filepipe.events import ObjectRef, execution_name, load_body, parse_notification, parse_sqs_event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_log = logging.getLogger(__name__)


@dataclass
class TriggerReport:
    """What one invocation did: names started, duplicates skipped, messages to retry."""

    started: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    failed_message_ids: list[str] = field(default_factory=list)
    young: list[str] = field(default_factory=list)
    """Listed objects too young for the sweep: their own events start them."""
    gone: list[str] = field(default_factory=list)
    """Listed objects no longer in staging when their turn came."""

    def batch_response(self) -> dict[str, Any]:
        """The SQS partial-batch response (ReportBatchItemFailures)."""
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in self.failed_message_ids]}


class Trigger:
    """Starts executions of the Standard state machine, or, for files at or below
    ``express_max_bytes``, of the Express one when there is one; ``log`` is any stdlib-compatible
    logger."""

    def __init__(
        self,
        sfn: SFNClient,
        state_machine_arn: str,
        log: Any = _log,
        express_arn: str | None = None,
        express_max_bytes: int = 0,
    ) -> None:
        self._sfn, self._arn, self._log = sfn, state_machine_arn, log
        self._express_arn, self._express_max_bytes = express_arn, express_max_bytes

    def handle_listing(self, s3: S3Client, event: dict[str, Any]) -> TriggerReport:
        """A backfill's (or the sweep's) batch of listed objects: each started as its upload's
        event would have started it (``filepipe.backfill``)."""
        batch = parse_listing_batch(event)
        listing = refs_to_start(s3, batch)
        report = TriggerReport(young=listing.young, gone=listing.gone)
        for ref in listing.refs:
            self.start(ref, report)
        if batch.reason == "sweep" and report.started:
            self._log.warning("the sweep started files no event had started", extra={"started": report.started})
        return report

    def machine_for(self, ref: ObjectRef) -> str:
        """The Express machine for a small file when the stack has one; else the Standard one."""
        if self._express_arn and ref.size <= self._express_max_bytes:
            return self._express_arn
        return self._arn

    def handle(self, event: dict[str, Any]) -> TriggerReport:
        """Any of the three shapes: an SQS batch, an S3 notification, an EventBridge event."""
        if isinstance(event, dict) and is_sqs_batch(event):
            return self.handle_sqs(event)
        report = TriggerReport()
        notification = parse_notification(event)
        report.ignored += notification.ignored
        for ref in notification.refs:
            self.start(ref, report)
        return report

    def handle_sqs(self, event: dict[str, Any]) -> TriggerReport:
        """Every message of the batch; a failing one is reported, never dropped."""
        report = TriggerReport()
        for message in parse_sqs_event(event):
            try:
                notification = parse_notification(load_body(message.body))
            except MalformedEvent as exc:
                self._log.error(
                    "malformed message; left for the dead-letter queue",
                    extra={"messageId": message.message_id, "reason": str(exc), "body": message.body},
                )
                report.failed_message_ids.append(message.message_id)
                continue
            report.ignored += notification.ignored
            failed = False
            for ref in notification.refs:
                try:
                    self.start(ref, report)
                except (ClientError, BotoCoreError) as exc:
                    level = self._log.warning if is_transient(exc) else self._log.error
                    level(
                        "could not start an execution; the message will be retried",
                        extra={"messageId": message.message_id, "key": ref.key, "error": error_code(exc)},
                    )
                    failed = True
            if failed:
                report.failed_message_ids.append(message.message_id)
        return report

    def start(self, ref: ObjectRef, report: TriggerReport) -> None:
        """Start ``ref``'s execution; an existing one with the same name counts as done."""
        name, machine = execution_name(ref), self.machine_for(ref)
        if start_once(self._sfn, machine, name, ref):
            tier = "express" if machine == self._express_arn else "standard"
            self._log.info("execution started", extra={"key": ref.key, "execution": name, "tier": tier})
            report.started.append(name)
        else:
            self._log.info("duplicate event; execution already exists", extra={"key": ref.key, "execution": name})
            report.duplicates.append(name)


def start_once(sfn: SFNClient, state_machine_arn: str, name: str, ref: ObjectRef) -> bool:
    """StartExecution under a deterministic name: False when that execution already exists
    (Standard machines only: an Express machine starts a second one, and the claim stops it)."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(ref.to_state(), ensure_ascii=False)
        )
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise
        return False
    return True


def is_sqs_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return bool(records) and isinstance(records, list) and records[0].get("eventSource") == "aws:sqs"
