"""A backfill's batches: listed objects started as their uploads' events would have started them."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from filepipe.backfill import (
    ToStart,
    inventory_keys,
    is_listing_batch,
    lines,
    manifest_csv,
    parse_listing_batch,
    refs_to_start,
)
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
    listing = refs_to_start(s3, parse_listing_batch(batch(["in/a b+c.csv", "in/gone.csv"])), now=NOW)
    refs = listing.refs
    assert [(r.key, r.version_id, r.size) for r in refs] == [("in/a b+c.csv", current.version_id, 4)]
    assert (listing.gone, listing.young) == (["in/gone.csv"], [])
    assert execution_name(refs[0]) == execution_name(current), "the same name its upload's event gives it"


def test_the_sweep_leaves_young_objects_to_their_events(s3: Any, settings: Settings) -> None:
    upload(s3, "young.csv", b"x")
    young = parse_listing_batch(batch(["young.csv"], older_than=3600, modified=NOW - timedelta(minutes=59)))
    old = parse_listing_batch(batch(["young.csv"], older_than=3600, modified=NOW - timedelta(minutes=61)))
    assert refs_to_start(s3, young, now=NOW) == ToStart([], ["young.csv"], [])
    assert [r.key for r in refs_to_start(s3, old, now=NOW).refs] == ["young.csv"]


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


AWKWARD = [
    "plain.csv",
    "a b+c.csv",
    'comma,and "quote".csv',
    "line\nbreak.csv",
    "é/ü.csv",
    " spaced ",
    "back\\slash\\n.csv",
    "ends with \\",
    '\\"',
    "tab\there",
    "e\u0301 not NFC",
]


def test_a_manifest_holds_each_key_exactly_as_step_functions_reads_it_back() -> None:
    """Step Functions' CSV reader drops a backslash before any other character (its documented
    rules, which the local cloud's reader follows): a key's backslashes are escaped."""
    from filepipe.local.adapter.item_reader import parse_csv

    text = b"".join(manifest_csv(AWKWARD)).decode("utf-8")
    assert list(parse_csv(text)) == [["Key"], *([k] for k in AWKWARD)]
    with pytest.raises(ValueError, match="not an S3 key"):
        b"".join(manifest_csv(["ok", "x" * 1025]))
    assert list(lines(["a\n", "\n", " b \r\n", "c"])) == ["a", " b ", "c"]


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60), min_size=1, max_size=20))
def test_any_key_survives_the_manifest(keys: list[str]) -> None:
    from filepipe.local.adapter.item_reader import parse_csv

    keys = [k for k in keys if len(k.encode("utf-8")) <= 1024] or ["k"]
    text = b"".join(manifest_csv(keys)).decode("utf-8")
    assert [row for (row,) in list(parse_csv(text))[1:]] == keys


def test_an_inventory_reports_current_keys_of_its_bucket_decoded(s3: Any, settings: Settings) -> None:
    s3.create_bucket(Bucket="inventory")
    rows = [
        ["staging", "in/a+b%2Bc.csv", "v2", "true", "false"],
        ["staging", "in/a+b%2Bc.csv", "v1", "false", "false"],
        ["staging", "in/%C3%A9.csv", "v1", "true", "true"],
        ["other", "in/x.csv", "v1", "true", "false"],
    ]
    data = gzip.compress("".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows).encode())
    s3.put_object(Bucket="inventory", Key="r/data/1.csv.gz", Body=data)
    manifest = {
        "destinationBucket": "arn:aws:s3:::inventory",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
        "files": [{"key": "r/data/1.csv.gz"}],
    }
    s3.put_object(Bucket="inventory", Key="r/manifest.json", Body=json.dumps(manifest).encode())
    assert list(inventory_keys(s3, "s3://inventory/r/manifest.json", "staging")) == ["in/a b+c.csv"]
    s3.put_object(
        Bucket="inventory", Key="p/manifest.json", Body=json.dumps(manifest | {"fileFormat": "Parquet"}).encode()
    )
    with pytest.raises(ValueError, match="only CSV"):
        list(inventory_keys(s3, "s3://inventory/p/manifest.json", "staging"))
    with pytest.raises(ValueError, match=r"s3://BUCKET/\.\.\./manifest\.json"):
        list(inventory_keys(s3, "https://inventory/r/manifest.json", "staging"))
