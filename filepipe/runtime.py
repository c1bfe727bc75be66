"""What every entrypoint shares: settings, clients and the request envelope of a task."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from filepipe.config import Settings
from filepipe.events import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_S3_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, max_pool_connections=32)
_SFN_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=_S3_CONFIG)


@cache
def sfn_client() -> SFNClient:
    return boto3.client("stepfunctions", config=_SFN_CONFIG)


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_SFN_CONFIG)


COPY_MARGIN_SECONDS = 60
"""Kept back from a copy's time in an invocation: to complete the upload, answer, and spare."""


def copy_deadline(context: Any, settings: Settings, request: TaskRequest) -> float | None:
    """By when a copy in parts in this invocation must have copied its last part (a
    ``time.monotonic()`` instant): the invocation's time less a margin, or the settings' budget
    if shorter. The copy starts no part that would not end by then at a conservative rate, and
    the step runs again for the rest: no invocation copies more than fits in its timeout."""
    if not request.in_parts:
        return None  # a step that does not loop copies the whole file (the Lambda path's, under 5 GiB)
    remaining = context.get_remaining_time_in_millis() / 1000
    budget = remaining - COPY_MARGIN_SECONDS
    if settings.copy_budget_seconds is not None:
        budget = min(budget, settings.copy_budget_seconds)
    return time.monotonic() + max(budget, 0.0)


def reset() -> None:
    """Forget cached settings and clients (the local cloud calls this when its endpoint moves)."""
    settings.cache_clear()
    s3_client.cache_clear()
    sfn_client.cache_clear()
    dynamodb_client.cache_clear()


@dataclass(frozen=True)
class TaskRequest:
    """A state machine task's payload: ``{"object": <state>, "execution": ..., "error": ...}``."""

    ref: ObjectRef
    execution: str | None
    error: dict[str, Any]
    transformed: dict[str, Any]
    """The transform step's result, when the state has one (the Lambda path's carries a summary)."""
    state: dict[str, Any] = field(default_factory=dict)
    """The whole state the task was given (earlier steps' results included)."""
    in_parts: bool = False
    """The step may stop a copy in parts in time and run again for the rest (it loops)."""

    def copying(self, step: str) -> dict[str, Any] | None:
        """The copy in parts ``step`` (``archived``, ``failed``) left under way, if it did."""
        earlier = self.state.get(step)
        if isinstance(earlier, dict) and earlier.get("status") == "copying" and isinstance(earlier.get("copy"), dict):
            return dict(earlier["copy"])
        return None

    @classmethod
    def parse(cls, event: dict[str, Any]) -> TaskRequest:
        if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
            raise ValueError("task payload needs an 'object' with the state input")
        error = event.get("error") or {}
        transformed = event["object"].get("transformed")
        return cls(
            ref=ObjectRef.from_state(event["object"]),
            execution=event.get("execution"),
            error=error if isinstance(error, dict) else {"Error": "Unknown", "Cause": str(error)},
            transformed=transformed if isinstance(transformed, dict) else {},
            state=dict(event["object"]),
            in_parts=event.get("inParts") is True,
        )
