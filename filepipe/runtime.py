"""What every entrypoint shares: settings, clients and the request envelope of a task."""

from __future__ import annotations

from dataclasses import dataclass
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
        )
