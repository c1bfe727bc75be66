"""A backfill's batches: listed objects started as their uploads' events would have started them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from filepipe.backfill import is_listing_batch, parse_listing_batch, refs_to_start
from filepipe.config import Settings
from filepipe.errors import MalformedEvent
from filepipe.events import execution_name
from filepipe.trigger import Trigger
from tests.conftest import REGION, upload

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def batch(keys: list[str], older_than: int = 0, modified: datetime = NOW, reason: str = "backfill") -> dict[str, Any]:
    return {
        "Items": [{"Key": k, "Size": 4, "ETag": '"e"', "LastModified": modified.isoformat()} for k in keys],
        "BatchInput": {"bucket": "staging", "olderThanSeconds": older_than, "reason": reason},
    }


def test_listing_batches_are_told_from_notifications() -> None:
    assert is_listing_batch(batch(["a"]))
    assert not is_listing_batch({"Records": []})
    with pytest.raises(MalformedEvent):
        parse_listing_batch({"Items": [{"Size": 1}], "BatchInput": {"bucket": "staging"}})
    with pytest.raises(MalformedEvent):
        parse_listing_batch({"Items": [], "BatchInput": "staging"})


def test_each_listed_object_is_its_current_version(s3: Any, settings: Settings) -> None:
    upload(s3, "in/a b+c.csv", b"old")
    current = upload(s3, "in/a b+c.csv", b"new!")
    refs, skipped = refs_to_start(s3, parse_listing_batch(batch(["in/a b+c.csv", "in/gone.csv"])), now=NOW)
    assert [(r.key, r.version_id, r.size) for r in refs] == [("in/a b+c.csv", current.version_id, 4)]
    assert skipped == ["in/gone.csv"]
    assert execution_name(refs[0]) == execution_name(current), "the same name its upload's event gives it"


def test_the_sweep_leaves_young_objects_to_their_events(s3: Any, settings: Settings) -> None:
    upload(s3, "young.csv", b"x")
    young = parse_listing_batch(batch(["young.csv"], older_than=3600, modified=NOW - timedelta(minutes=59)))
    old = parse_listing_batch(batch(["young.csv"], older_than=3600, modified=NOW - timedelta(minutes=61)))
    assert refs_to_start(s3, young, now=NOW) == ([], ["young.csv"])
    assert [r.key for r in refs_to_start(s3, old, now=NOW)[0]] == ["young.csv"]


def test_the_trigger_starts_a_listing_once(s3: Any, settings: Settings) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(name="filepipe", definition=definition, roleArn=role["Arn"])["stateMachineArn"]
    for key in ("a.csv", "b.csv"):
        upload(s3, key, b"1")
    trigger = Trigger(sfn, machine)
    first = trigger.handle_listing(s3, batch(["a.csv", "b.csv"]))
    trigger.handle_listing(s3, batch(["a.csv", "b.csv"]))
    assert len(first.started) == 2 and not first.duplicates
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 2, "a second listing of the same versions starts nothing new"
