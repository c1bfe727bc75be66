"""Shared fixtures: moto-backed clients, the two buckets, and recorded events."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import hypothesis
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from filepipe.claims import Claims
from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.operations import Target

if TYPE_CHECKING:
    from filepipe.local import LocalCloud

# Shared machines are noisy: property tests check behaviour, not speed.
hypothesis.settings.register_profile("filepipe", deadline=None)
hypothesis.settings.load_profile("filepipe")

EVENTS = Path(__file__).with_name("events")
REGION = "us-east-1"


def tool(name: str) -> str:
    """A command-line tool installed beside this interpreter (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `make setup`"
    return found


def load_event(name: str) -> dict[str, Any]:
    """A recorded event from ``tests/events``."""
    return dict(json.loads((EVENTS / name).read_text(encoding="utf-8")))


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real account: fake credentials, a fixed region."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def settings(s3: Any) -> Settings:
    """Versioned staging and archive buckets, as the stack makes them."""
    for bucket in ("staging", "archive"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return Settings(staging_bucket="staging", archive_bucket="archive")


# -- the local cloud ----------------------------------------------------------------------------


REVOKE = "FILEPIPE_TEST_REVOKE"
"""``principal:grant-index`` (comma-separated): the session's local cloud runs with those grants
removed from the stack's table. The mutation control (tests/reliability/test_permissions.py)
sets it to show a named end-to-end test failing without one grant."""


def grants_for_session() -> dict[str, Any]:
    from filepipe.grants import PRINCIPALS, without

    grants = dict(PRINCIPALS)
    for item in filter(None, os.environ.get(REVOKE, "").split(",")):
        principal, index = item.split(":")
        grants[principal] = without(grants[principal], int(index))
    return grants


@pytest.fixture(scope="session")
def session_cloud() -> Iterator[LocalCloud]:
    """One local cloud per session (started on first use), emptied before each test."""
    from filepipe.deployment import Deployment
    from filepipe.local import LocalCloud, LocalConfig
    from tests.local.helpers import PRESIGN_MAX, THRESHOLD

    deployment = Deployment(
        large_file_threshold_bytes=THRESHOLD,
        upload_presign_max_bytes=PRESIGN_MAX,
        queue_max_receive_count=3,
        upload_part_size=5 * 1024 * 1024,
    )
    config = LocalConfig(
        deployment=deployment,
        port=0,
        runner="process",
        retry_after_seconds=2,
        grants=grants_for_session(),
        idle_timeout_seconds=5,
        request_timeout_seconds=10,
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
        logs=cloud.client("logs"),
        express_log_group=cloud.express_log_group,
        claims=Claims(cloud.client("dynamodb"), cloud.naming.claims_table),
        backfill_state_machine_arn=cloud.backfill_state_machine_arn,
        reprocess_state_machine_arn=cloud.reprocess_state_machine_arn,
    )


_sequence = iter(range(1, 1_000_000))


def upload(s3: Any, key: str, body: bytes, bucket: str = "staging", sequencer: str | None = None) -> ObjectRef:
    """Put an object and return the reference its S3 event would carry."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return ObjectRef(
        bucket=bucket,
        key=key,
        version_id=response.get("VersionId"),
        etag=response["ETag"].strip('"'),
        size=len(body),
        sequencer=sequencer or f"{next(_sequence):016X}",
        event_time="2026-11-26T00:00:00.000Z",
    )


class Faulty:
    """A boto3 client whose named operations fail on chosen calls, the rest passed through.

    ``Faulty(s3, {"upload_part_copy": [None, "InternalError"]})``: the first call works, the
    second raises a ClientError with that code (HTTP 500 for codes ending in "Error"), later
    calls work again.
    """

    def __init__(self, client: Any, plan: dict[str, list[str | None]]) -> None:
        self._client = client
        self._plan = {op: list(codes) for op, codes in plan.items()}
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if name not in self._plan:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
                code = self._plan[name].pop(0) if self._plan[name] else None
            if code is not None:
                status = 500 if code.endswith("Error") or code == "ServiceUnavailable" else 400
                raise ClientError(
                    {
                        "Error": {"Code": code, "Message": f"injected {code}"},
                        "ResponseMetadata": {"HTTPStatusCode": status},
                    },
                    name,
                )
            return target(*args, **kwargs)

        return call


def read(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def versions(s3: Any, bucket: str) -> list[dict[str, Any]]:
    response = s3.list_object_versions(Bucket=bucket)
    return list(response.get("Versions", []))
