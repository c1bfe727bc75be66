"""One execution at a time per object version: a lease in DynamoDB, taken by the transform step.

Standard executions are exactly-once and deduplicated by name, but Express executions are
at-least-once, and starting two with the same name runs both. Two executions of one version
at once would write its output twice and race to move it. So before anything is written, the
transform step takes a lease on the version (one conditional PutItem, about $0.6 per million
files) and a second execution that finds it held stops as a duplicate.

A lease held by an Express execution ends by itself: no Express execution lives longer than
five minutes, so its lease is dated five minutes (and a margin for clocks) from when it was
taken. A Standard execution takes the lease over from an Express one of the same name (the
Express one handed the file over: it would not fit in five minutes) and from another Standard
one (Standard executions start once per name; a second one is a retry a person asked for). An
Express execution never takes over from a Standard one: it is the duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from filepipe.errors import FilepipeError, error_code
from filepipe.events import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXPRESS_LIMIT_SECONDS = 300
"""The longest an Express execution can run."""
EXPRESS_TRANSFORM_SECONDS = 45
"""How long a transform may run in an Express execution before it stops (:class:`WouldNotFit`)
and the file continues on the Standard machine."""
CLOCK_MARGIN_SECONDS = 60
STANDARD_RECORD_DAYS = 7
"""When DynamoDB's TTL removes a Standard execution's claim (longer than any can run here)."""


class DuplicateExecution(FilepipeError):
    """Another execution is processing (or has finished with) this object version; the workflow
    ends this one as a duplicate, having written nothing."""


class WouldNotFit(FilepipeError):
    """The transform ran out of the Express tier's time: the file continues on the Standard machine
    (the output it had begun is aborted, so nothing is left half-written)."""


DELIBERATE_STOPS = (DuplicateExecution, WouldNotFit)
"""What the transform raises on purpose for the workflow to route (a duplicate ends as one, a
hand-over continues on the Standard machine): Lambda counts each as an error, but none is a failure."""


@dataclass(frozen=True)
class ExecutionId:
    """An execution ARN, read: Express ARNs say ``:express:`` where Standard ones say ``:execution:``."""

    arn: str

    @property
    def express(self) -> bool:
        return ":express:" in self.arn

    @property
    def name(self) -> str:
        parts = self.arn.split(":")
        return parts[7] if len(parts) > 7 else self.arn


def history_of(execution: str | None, express_log_group: str | None) -> str:
    """Where a person finds an execution's history: Express executions keep none in Step Functions."""
    if execution and ExecutionId(execution).express:
        where = f"log group {express_log_group}" if express_log_group else "the Express machine's log group"
        return f"CloudWatch Logs, {where} (filter by the execution ARN)"
    return "the Step Functions console (execution history)"


@dataclass(frozen=True)
class Claim:
    """One claim as the table holds it: who holds which file's version, since when, until when."""

    version: str
    """The object version's execution name (the table's key)."""
    holder: str
    expires: float
    key: str | None = None
    version_id: str | None = None
    taken: float | None = None
    handed_over_by: str | None = None
    """The Express execution a Standard one took the version over from (same name), if any."""

    def held(self, now: float) -> bool:
        return self.expires >= now

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Claim:
        def text(name: str) -> str | None:
            return str(item[name]["S"]) if name in item else None

        return cls(
            version=str(item["version"]["S"]),
            holder=str(item["holder"]["S"]),
            expires=float(item["expires"]["N"]),
            key=text("key"),
            version_id=text("versionId"),
            taken=float(item["taken"]["N"]) if "taken" in item else None,
            handed_over_by=text("handedOverBy"),
        )


@dataclass(frozen=True)
class Claims:
    """The claims table: ``version`` (the object version's execution name) is the key."""

    dynamodb: DynamoDBClient
    table: str

    def take(self, version: str, execution: str, now: float | None = None, ref: ObjectRef | None = None) -> None:
        """Hold ``version`` for ``execution``, or raise :class:`DuplicateExecution` (an Express
        execution that came second, or a retry started while another execution still runs).
        ``ref``, the file, is written with the claim for the command line to read."""
        me = ExecutionId(execution)
        now = time.time() if now is None else now
        expires = now + (EXPRESS_LIMIT_SECONDS + CLOCK_MARGIN_SECONDS if me.express else STANDARD_RECORD_DAYS * 86400)
        item = self._item(version, me, expires, now, ref)
        held = self._put(item, me, now, replacing=None)
        if held is None:
            return
        holder = ExecutionId(held["holder"]["S"])
        if not self._may_take_over(me, holder):
            raise DuplicateExecution(f"{holder.arn} is already processing this version")
        if holder.express:
            item["handedOverBy"] = {"S": holder.arn}
        if self._put(item, me, now, replacing=holder) is not None:
            raise DuplicateExecution("another execution took this version first")

    def express_claims(self) -> Iterator[Claim]:
        """Every claim an Express execution took, or a Standard one took over from one: what is
        left of Express executions when their machine logs errors only. DynamoDB's TTL removes
        each some time (usually within days) after its lease ends."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="contains(holder, :express) OR attribute_exists(handedOverBy)",
            ExpressionAttributeValues={":express": {"S": ":express:"}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield Claim.from_item(dict(item))

    def holder(self, version: str, now: float | None = None) -> str | None:
        """The execution holding ``version`` now, if any (an Express execution cannot be found by
        its name, so this is how the upload API's status sees one at work)."""
        item = self.dynamodb.get_item(TableName=self.table, Key={"version": {"S": version}}, ConsistentRead=True).get(
            "Item"
        )
        now = time.time() if now is None else now
        if item is None or float(item["expires"]["N"]) < now:
            return None
        return str(item["holder"]["S"])

    def release(self, version: str, execution: str) -> None:
        """Give the claim up, if ``execution`` still holds it (after a failure, so that a retry
        need not wait for the lease to end)."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"version": {"S": version}},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": execution}},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    @staticmethod
    def _may_take_over(me: ExecutionId, holder: ExecutionId) -> bool:
        if me.express:
            return False
        return not holder.express or holder.name == me.name

    @staticmethod
    def _item(version: str, me: ExecutionId, expires: float, now: float, ref: ObjectRef | None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "version": {"S": version},
            "holder": {"S": me.arn},
            "expires": {"N": str(int(expires))},
            "taken": {"N": f"{now:.3f}"},
        }
        if ref is not None:
            item["key"] = {"S": ref.key}
            if ref.version_id:
                item["versionId"] = {"S": ref.version_id}
        return item

    def _put(
        self, item: dict[str, Any], me: ExecutionId, now: float, replacing: ExecutionId | None
    ) -> dict[str, Any] | None:
        """The conditional write; None when it took, else the item that holds the version."""
        if replacing is None:
            condition = "attribute_not_exists(version) OR expires < :now OR holder = :me"
            values: dict[str, Any] = {":now": {"N": str(int(now))}, ":me": {"S": me.arn}}
        else:
            condition = "holder = :old"
            values = {":old": {"S": replacing.arn}}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            held = exc.response.get("Item")
            return dict(held) if isinstance(held, dict) and held else {"holder": {"S": "unknown"}}
        return None
