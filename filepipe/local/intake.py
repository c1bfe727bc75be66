"""Local event source mapping: polls the intake queue and invokes the trigger with SQS batches,
deleting what succeeded and leaving reported failures for redelivery, as Lambda's SQS poller
does with ReportBatchItemFailures; ``concurrency`` pollers at once, like the mapping's
maximum concurrency (``triggerMaxConcurrency`` in the stack)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from filepipe.local.lambdas import LocalLambda

_log = logging.getLogger(__name__)


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        lambdas: LocalLambda,
        function: str,
        *,
        batch_size: int = 10,
        concurrency: int = 5,
        region: str = "us-east-1",
        retry_after_seconds: int | None = None,
    ) -> None:
        self._sqs, self._url, self._arn = sqs, queue_url, queue_arn
        self._lambdas, self._function = lambdas, function
        self._batch_size, self._region = batch_size, region
        self._retry_after = retry_after_seconds
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name=f"intake-poller-{n}", daemon=True) for n in range(concurrency)
        ]
        self.batches = 0

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as exc:
                if self._stop.is_set():
                    return
                if "NonExistentQueue" in str(exc):
                    _log.debug("intake queue is being re-created")
                else:
                    _log.exception("intake poll failed; retrying")
                self._stop.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the trigger; returns how many messages it held."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        event = {"Records": [self._record(m) for m in messages]}
        result = self._lambdas.invoke(self._function, json.dumps(event).encode())
        if result.function_error:
            _log.warning("trigger failed the whole batch: %s", result.payload[:500])
            self._retry_soon(messages)
            return len(messages)
        failed = {f["itemIdentifier"] for f in json.loads(result.payload).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
        self._retry_soon([m for m in messages if m["MessageId"] in failed])
        return len(messages)

    def _retry_soon(self, messages: list[dict[str, Any]]) -> None:
        """Failed messages become visible after ``retry_after_seconds`` (AWS: the queue's timeout)."""
        if self._retry_after is None:
            return
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._retry_after}
                for i, m in enumerate(messages[start : start + 10])
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        }
