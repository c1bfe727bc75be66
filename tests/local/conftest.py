"""One local cloud per session, emptied before each test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from filepipe.local import LocalCloud, LocalConfig
from filepipe.operations import ExecutionView, Target, describe

THRESHOLD = 256 * 1024
"""The local cloud's large-file threshold in these tests: above it, files take the Batch path."""
PRESIGN_MAX = 1024 * 1024
"""Uploads above this get multipart credentials from the upload API in these tests."""
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@pytest.fixture(scope="session")
def session_cloud() -> Iterator[LocalCloud]:
    config = LocalConfig(
        port=0,
        large_file_threshold_bytes=THRESHOLD,
        runner="process",
        presign_max_bytes=PRESIGN_MAX,
        upload_part_size=5 * 1024 * 1024,
    )
    with LocalCloud(config) as cloud:
        yield cloud


@pytest.fixture
def cloud(session_cloud: LocalCloud) -> Iterator[LocalCloud]:
    session_cloud.reset()
    yield session_cloud
    session_cloud.lambdas.interceptors.clear()
    if session_cloud.batch is not None:
        session_cloud.batch.interceptors.clear()


@pytest.fixture
def target(cloud: LocalCloud) -> Target:
    return Target(
        s3=cloud.client("s3"),
        sfn=cloud.client("stepfunctions"),
        staging_bucket=cloud.config.staging_bucket,
        archive_bucket=cloud.config.archive_bucket,
        state_machine_arn=cloud.state_machine_arn,
    )


def settle(target: Target, expected: int, timeout: float = 60) -> list[ExecutionView]:
    """Wait until ``expected`` executions exist and all have ended; return them, newest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = target.sfn.list_executions(stateMachineArn=target.state_machine_arn)["executions"]
        if len(listed) >= expected and all(e["status"] in TERMINAL for e in listed):
            return [describe(target, e["executionArn"]) for e in listed]
        time.sleep(0.2)
    raise AssertionError(f"executions did not settle: {listed}")


def by_key(views: list[ExecutionView]) -> dict[str, ExecutionView]:
    return {v.key: v for v in views}


def staging_versions(target: Target) -> list[Any]:
    listing = target.s3.list_object_versions(Bucket=target.staging_bucket)
    return [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
