"""Parsing every envelope S3 events arrive in, and the names executions get."""

from __future__ import annotations

import json
import re
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filepipe.errors import MalformedEvent
from filepipe.events import (
    MAX_EXECUTION_NAME,
    ObjectRef,
    VersionOrder,
    execution_name,
    load_body,
    parse_notification,
    parse_sqs_event,
    sequencer_is_newer,
)
from tests.conftest import load_event

NAME_ALPHABET = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def s3_event(key: str, **object_fields: object) -> dict[str, object]:
    """A minimal S3 notification for an already-encoded key."""
    obj = {"key": key, "size": 1, "eTag": "e", "versionId": "v", "sequencer": "01"} | object_fields
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-26T00:00:00.000Z",
                "s3": {"bucket": {"name": "b"}, "object": obj},
            }
        ]
    }


def test_plain_s3_notification_decodes_the_key() -> None:
    (ref,) = parse_notification(load_event("s3_put.json")).refs
    assert ref == ObjectRef(
        bucket="filepipe-staging",
        key="reports/q1 summary+final.csv",
        version_id="v1",
        etag="0123456789abcdef0123456789abcdef",
        size=1234,
        sequencer="0055AED6DCD90281E5",
        event_time="2026-11-26T12:00:00.000Z",
    )


def test_every_record_of_every_sqs_message_is_read() -> None:
    messages = parse_sqs_event(load_event("sqs_batch.json"))
    assert [m.message_id for m in messages] == ["msg-1", "msg-2", "msg-3"]
    parsed = [parse_notification(load_body(m.body)) for m in messages]
    assert [r.key for r in parsed[0].refs] == ["incoming/a.csv", "incoming/naïve café 100%.txt"]
    assert parsed[0].ignored == ["ObjectRemoved:Delete incoming/a.csv"]
    assert parsed[1].refs == [] and parsed[1].ignored == ["s3:TestEvent"]
    assert [r.key for r in parsed[2].refs] == ["deep/dir/日本語 ファイル.bin"]


def test_eventbridge_object_created() -> None:
    (ref,) = parse_notification(load_event("eventbridge_object_created.json")).refs
    assert ref.key == "photos/summer 2026+.jpg"
    assert (ref.version_id, ref.size, ref.sequencer) == ("ve", 5, "00617F08299329D189")


def test_eventbridge_other_detail_types_are_ignored() -> None:
    event = load_event("eventbridge_object_created.json") | {"detail-type": "Object Deleted"}
    assert parse_notification(event).refs == []


def test_s3_test_event_is_ignored() -> None:
    assert parse_notification(load_event("s3_test_event.json")).ignored == ["s3:TestEvent"]


def test_an_sns_envelope_carries_the_same_notification() -> None:
    """A bucket's events fanned out through SNS, delivered without raw message delivery."""
    assert parse_notification(load_event("sns_s3_put.json")) == parse_notification(load_event("s3_put.json"))
    test_event = load_event("sns_s3_put.json") | {"Message": json.dumps(load_event("s3_test_event.json"))}
    assert parse_notification(test_event).ignored == ["s3:TestEvent"]
    for message in (None, "not json", json.dumps({"not": "s3"})):
        with pytest.raises(MalformedEvent):
            parse_notification(load_event("sns_s3_put.json") | {"Message": message})


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a+b.csv", "a b.csv"),
        ("a%2Bb.csv", "a+b.csv"),
        ("100%25+done", "100% done"),
        ("%E2%82%AC%F0%9F%98%80", "€😀"),
        ("folder/", "folder/"),
        ("%2Fleading", "/leading"),
    ],
)
def test_keys_decode_as_s3_encodes_them(encoded: str, decoded: str) -> None:
    (ref,) = parse_notification(s3_event(encoded)).refs
    assert ref.key == decoded


@given(st.text(min_size=1, max_size=200).filter(lambda k: "\x00" not in k))
def test_any_key_round_trips_through_s3_encoding(key: str) -> None:
    (ref,) = parse_notification(s3_event(quote_plus(key, safe="/"))).refs
    assert ref.key == key


def test_a_1024_byte_key_is_kept_whole() -> None:
    key = ("é" * 511) + "xy"
    assert len(key.encode()) == 1024
    (ref,) = parse_notification(s3_event(quote_plus(key))).refs
    assert ref.key == key


def test_etag_quotes_are_dropped_and_missing_version_is_none() -> None:
    (ref,) = parse_notification(s3_event("k", eTag='"abc"', versionId=None)).refs
    assert ref.etag == "abc"
    assert ref.version_id is None


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {"unexpected": True},
        {"Records": []},
        {"Records": "nope"},
        {"Records": [{"eventSource": "aws:sqs", "eventName": "ObjectCreated:Put"}]},
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]},
    ],
)
def test_malformed_notifications_raise_a_clear_error(payload: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_notification(payload)


def test_a_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="not JSON"):
        load_body("{not json")


def test_state_round_trip() -> None:
    ref = ObjectRef("b", "k é", "v", "e", 10, "0A", "t")
    assert ObjectRef.from_state(json.loads(json.dumps(ref.to_state()))) == ref
    with pytest.raises(ValueError, match="bucket"):
        ObjectRef.from_state({"key": "k"})


class TestExecutionNames:
    def test_deterministic_and_readable(self) -> None:
        ref = ObjectRef("b", "reports/q1 summary.csv", "v1", "e", 1, "01")
        assert execution_name(ref) == execution_name(ref)
        assert execution_name(ref).startswith("reports_q1_summary_csv-")

    def test_each_version_gets_its_own(self) -> None:
        base = ObjectRef("b", "k", "v1", "e", 1, "01")
        variants = [
            base,
            ObjectRef("b", "k", "v2", "e", 1, "01"),
            ObjectRef("b2", "k", "v1", "e", 1, "01"),
            ObjectRef("b", "k", None, "e2", 1, "01"),
            ObjectRef("b", "k", None, "e2", 1, "02"),
        ]
        assert len({execution_name(r) for r in variants}) == len(variants)

    def test_a_version_is_found_from_its_id_alone(self) -> None:
        """The upload API's status knows a version from a HEAD: no sequencer, no event."""
        event = ObjectRef("b", "k", "v1", "e", 1, "01")
        assert execution_name(event) == execution_name(ObjectRef("b", "k", "v1", None, 0, None))

    def test_keys_differing_only_in_unsafe_characters_differ(self) -> None:
        a = ObjectRef("b", "a b", "v", None, 1, "01")
        b = ObjectRef("b", "a_b", "v", None, 1, "01")
        assert execution_name(a) != execution_name(b)

    @given(
        st.text(min_size=1, max_size=1024),
        st.one_of(st.none(), st.text(max_size=40)),
        st.one_of(st.none(), st.text(alphabet="0123456789ABCDEF", max_size=24)),
    )
    def test_always_fits_step_functions_rules(self, key: str, version: str | None, sequencer: str | None) -> None:
        name = execution_name(ObjectRef("bucket", key, version, None, 0, sequencer))
        assert len(name) <= MAX_EXECUTION_NAME
        assert NAME_ALPHABET.match(name)


@pytest.mark.parametrize(
    ("candidate", "current", "newer"),
    [
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5", True),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", False),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),
        ("0100", "FF", True),
        ("00FF", "100", False),
        ("01", None, True),
        (None, "01", False),
    ],
)
def test_sequencers_compare_as_hex_numbers(candidate: str | None, current: str | None, newer: bool) -> None:
    assert sequencer_is_newer(candidate, current) is newer


@pytest.mark.parametrize(
    ("candidate", "current", "newer"),
    [
        (VersionOrder("0A", "2026-12-04T10:00:00+00:00"), VersionOrder("09", "2026-12-04T10:00:05+00:00"), True),
        (VersionOrder(None, "2026-12-04T10:00:02+00:00"), VersionOrder("FF", "2026-12-04T10:00:01+00:00"), True),
        (VersionOrder("FF", "2026-12-04T10:00:01+00:00"), VersionOrder(None, "2026-12-04T10:00:02+00:00"), False),
        (VersionOrder(None, "2026-12-04T10:00:01.900+00:00"), VersionOrder("01", "2026-12-04T10:00:01+00:00"), False),
        (VersionOrder("01", "2026-12-04T10:00:01+00:00"), VersionOrder(None, "2026-12-04T10:00:01+00:00"), True),
        (VersionOrder(None, None), VersionOrder(None, None), False),
        (VersionOrder("02"), VersionOrder(None), True),
    ],
    ids=[
        "sequencers-decide",
        "later-upload-no-event",
        "earlier-upload-with-event",
        "same-second",
        "same-second-event",
        "nothing-known",
        "old-copies-without-modified",
    ],
)
def test_versions_are_ordered_by_their_staging_history(
    candidate: VersionOrder, current: VersionOrder, newer: bool
) -> None:
    assert candidate.is_newer_than(current) is newer


@given(st.integers(0, 2**64), st.integers(0, 2**64))
def test_two_sequencers_decide_whatever_the_times(a: int, b: int) -> None:
    first, second = (
        VersionOrder(f"{a:X}", "2026-12-04T10:00:00+00:00"),
        VersionOrder(f"{b:X}", "2026-12-04T11:00:00+00:00"),
    )
    assert first.is_newer_than(second) is (a > b)
