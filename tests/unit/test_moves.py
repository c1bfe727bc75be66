"""Archive and failure moves against moto's S3: exact versions, idempotence, ordering."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from filepipe.config import ArchiveLayout, Settings, fit_key, key_metadata
from filepipe.events import ObjectRef
from filepipe.moves import archive, locate, move_to_failed
from filepipe.processing import process
from filepipe.storage import MIN_PART_SIZE
from tests.conftest import Faulty, keys, read, upload, versions


def fail(s3: Any, ref: ObjectRef, settings: Settings, **kwargs: Any) -> Any:
    return move_to_failed(
        s3,
        ref,
        settings,
        error=kwargs.get("error", "TransformRejected"),
        cause=kwargs.get("cause", json.dumps({"errorMessage": "bad.csv is not a CSV"})),
        execution=kwargs.get("execution", "arn:aws:states:us-east-1:123456789012:execution:m:exec-1"),
        now=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    )


class TestArchive:
    def test_copies_then_deletes_exactly_the_processed_version(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "in/a b.csv", b"first")
        newer = upload(s3, "in/a b.csv", b"second")
        outcome = archive(s3, ref, settings, "exec-1")
        assert (outcome.status, outcome.location) == ("archived", "originals/in/a b.csv")
        assert read(s3, "archive", "originals/in/a b.csv") == b"first"
        remaining = [v["VersionId"] for v in versions(s3, "staging")]
        assert remaining == [newer.version_id], "the newer, unprocessed version stays in staging"
        meta = s3.head_object(Bucket="archive", Key="originals/in/a b.csv")["Metadata"]
        assert meta["filepipe-source-version"] == ref.version_id
        assert meta["filepipe-sequencer"] == ref.sequencer
        assert meta["filepipe-execution"] == "exec-1"
        assert meta["filepipe-key"] == key_metadata("in/a b.csv")

    def test_leaves_no_delete_marker_in_staging(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "k", b"x")
        archive(s3, ref, settings)
        listing = s3.list_object_versions(Bucket="staging")
        assert not listing.get("Versions") and not listing.get("DeleteMarkers")

    def test_twice_is_the_same_as_once(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "k", b"x")
        first = archive(s3, ref, settings)
        second = archive(s3, ref, settings)
        assert first == second
        assert len(versions(s3, "archive")) == 1

    def test_a_copy_done_before_a_crash_is_not_repeated(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "k", b"x")
        crashing = Faulty(s3, {"delete_object": ["InternalError"]})
        with pytest.raises(ClientError):
            archive(crashing, ref, settings)
        assert keys(s3, "staging") == ["k"], "the delete failed: the original is still there"
        assert archive(s3, ref, settings).status == "archived"
        assert len(versions(s3, "archive")) == 1, "no second copy"
        assert keys(s3, "staging") == []

    def test_an_object_already_gone_moves_nothing(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "k", b"x")
        s3.delete_object(Bucket="staging", Key="k", VersionId=ref.version_id)
        assert archive(s3, ref, settings).status == "gone"
        assert keys(s3, "archive") == []

    def test_an_older_version_never_overwrites_a_newer_one(self, s3: Any, settings: Settings) -> None:
        older = upload(s3, "k", b"old", sequencer="0055AED6DCD90281E5")
        newer = upload(s3, "k", b"new", sequencer="0055AED6DCD90281E6")
        assert archive(s3, newer, settings).status == "archived"
        late = archive(s3, older, settings)
        assert late.status == "superseded"
        assert read(s3, "archive", "originals/k") == b"new"
        assert late.location == f"superseded/k/{older.version_id}/original"
        assert read(s3, "archive", late.location) == b"old"
        assert keys(s3, "staging") == []

    def test_a_newer_version_replaces_an_older_archived_one(self, s3: Any, settings: Settings) -> None:
        older = upload(s3, "k", b"old", sequencer="01")
        newer = upload(s3, "k", b"new", sequencer="02")
        archive(s3, older, settings)
        assert archive(s3, newer, settings).status == "archived"
        assert read(s3, "archive", "originals/k") == b"new"
        assert read(s3, "archive", f"superseded/k/{older.version_id}/original") == b"old", "moved aside, not buried"

    @pytest.mark.parametrize("newer_first", [False, True], ids=["in-order", "newer-archived-first"])
    def test_a_version_no_event_announced_is_placed_by_its_staging_history(
        self, s3: Any, settings: Settings, newer_first: bool
    ) -> None:
        """v1 came with its event (a sequencer); v2 was uploaded a second later with none (a lost
        event, started by a backfill): v2 holds the main name whichever is archived first."""
        v1 = upload(s3, "k", b"one", sequencer="0055AED6DCD90281E5")
        time.sleep(1.1)  # S3's Last-Modified has one-second steps
        v2 = replace(upload(s3, "k", b"two"), sequencer=None, event_time=None)
        for ref in (v2, v1) if newer_first else (v1, v2):
            archive(s3, ref, settings)
        assert read(s3, "archive", "originals/k") == b"two"
        assert read(s3, "archive", f"superseded/k/{v1.version_id}/original") == b"one"
        assert keys(s3, "staging") == []

    def test_objects_above_the_copy_limit_use_multipart_copy(self, s3: Any, settings: Settings) -> None:
        data = os.urandom(MIN_PART_SIZE * 2 + 1)
        ref = upload(s3, "big.bin", data)
        lowered = replace(settings, copy_multipart_threshold=MIN_PART_SIZE, copy_part_size=MIN_PART_SIZE)
        archive(s3, ref, lowered)
        assert read(s3, "archive", "originals/big.bin") == data
        assert s3.head_object(Bucket="archive", Key="originals/big.bin")["ETag"].endswith('-3"')
        assert keys(s3, "staging") == []

    def test_a_1024_byte_key_is_archived_under_a_fitted_key(self, s3: Any, settings: Settings) -> None:
        key = "d/" + "é" * 510 + "xy"
        assert len(key.encode()) == 1024
        ref = upload(s3, key, b"long")
        outcome = archive(s3, ref, settings)
        assert outcome.location == fit_key("originals/", key)
        assert len(outcome.location.encode()) <= 1024
        head = s3.head_object(Bucket="archive", Key=outcome.location)
        assert head["Metadata"]["filepipe-key"] == key_metadata(key)


class TestMoveToFailed:
    def test_original_and_error_record(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "bad.csv", b"a,b\n1,2,3\n")
        outcome = fail(s3, ref, settings)
        assert (outcome.status, outcome.location, outcome.attempts) == ("failed", "failed/bad.csv", 1)
        assert read(s3, "archive", "failed/bad.csv") == b"a,b\n1,2,3\n"
        assert keys(s3, "staging") == []
        record = json.loads(read(s3, "archive", "errors/bad.csv.json"))
        modified = s3.head_object(Bucket="archive", Key="failed/bad.csv")["Metadata"]["filepipe-source-modified"]
        assert record == {
            "bucket": "staging",
            "key": "bad.csv",
            "versionId": ref.version_id,
            "etag": ref.etag,
            "sequencer": ref.sequencer,
            "size": 10,
            "error": "TransformRejected",
            "cause": {"errorMessage": "bad.csv is not a CSV"},
            "execution": "arn:aws:states:us-east-1:123456789012:execution:m:exec-1",
            "history": "the Step Functions console (execution history)",
            "attempts": 1,
            "failedKey": "failed/bad.csv",
            "time": "2026-11-26T12:00:00+00:00",
            "sourceModified": modified,
        }

    def test_a_plain_text_cause_is_kept_as_text(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "x", b"x")
        fail(s3, ref, settings, error="States.Timeout", cause="Task timed out after 600 seconds")
        record = json.loads(read(s3, "archive", "errors/x.json"))
        assert record["cause"] == "Task timed out after 600 seconds"

    def test_reserved_error_names_are_renamed_for_the_fail_state(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "t", b"x")
        outcome = fail(s3, ref, settings, error="States.Timeout", cause="")
        assert outcome.error == "Filepipe.Timeout"
        assert json.loads(read(s3, "archive", "errors/t.json"))["error"] == "States.Timeout"

    def test_an_archive_that_crashed_after_its_copy_is_completed_not_failed(self, s3: Any, settings: Settings) -> None:
        """Archive copied, then died before deleting: the object must not end in two places."""
        ref = upload(s3, "k.csv", b"a\n1\n")
        with pytest.raises(ClientError):
            archive(Faulty(s3, {"delete_object": ["AccessDenied"]}), ref, settings)
        outcome = fail(s3, ref, settings, error="ClientError")
        assert (outcome.status, outcome.location) == ("archived", "originals/k.csv")
        assert keys(s3, "staging") == []
        assert keys(s3, "archive") == ["originals/k.csv"]

    def test_gone_object_moves_nothing(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "x", b"x")
        s3.delete_object(Bucket="staging", Key="x", VersionId=ref.version_id)
        assert fail(s3, ref, settings).status == "gone"
        assert keys(s3, "archive") == []

    def test_retry_that_fails_again_counts_attempts(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "bad.csv", b"a,b\n1,2,3\n")
        fail(s3, ref, settings)
        source = locate(s3, ref, settings)
        assert source is not None and source.where == "failed"
        again = fail(s3, ref, settings, execution="exec-2")
        assert again.attempts == 2
        record = json.loads(read(s3, "archive", "errors/bad.csv.json"))
        assert (record["attempts"], record["execution"]) == (2, "exec-2")
        assert read(s3, "archive", "failed/bad.csv") == b"a,b\n1,2,3\n"

    def test_retry_that_succeeds_archives_from_the_failure_prefix(self, s3: Any, settings: Settings) -> None:
        ref = upload(s3, "data.csv", b"a,b\n1,2\n")
        fail(s3, ref, settings, error="TransientError")
        assert process(s3, ref, settings).status == "transformed"
        outcome = archive(s3, ref, settings)
        assert outcome.status == "archived"
        assert read(s3, "archive", "originals/data.csv") == b"a,b\n1,2\n"
        assert sorted(keys(s3, "archive")) == ["originals/data.csv", "outputs/data.csv/data.parquet"]

    def test_a_later_failure_of_another_version_does_not_hide_the_first(self, s3: Any, settings: Settings) -> None:
        v1 = upload(s3, "k.csv", b"one")
        v2 = upload(s3, "k.csv", b"two")
        fail(s3, v1, settings)
        fail(s3, v2, settings)
        source = locate(s3, v1, settings)
        assert source is not None and source.where == "failed"
        assert read(s3, "archive", "failed/k.csv") == b"two"
        body = s3.get_object(Bucket="archive", Key="failed/k.csv", VersionId=source.version_id)["Body"].read()
        assert body == b"one"


def test_long_keys_fit_every_prefix() -> None:
    key = "x" * 1024
    layout = ArchiveLayout()
    for made in (
        layout.original(key),
        layout.output(key, "data.parquet"),
        layout.failed_copy(key),
        layout.error_record(key),
        layout.superseded_original(key, "v" * 32),
    ):
        assert len(made.encode()) <= 1024
    assert layout.output(key, "a") != layout.output(key + "y", "a")
    assert layout.original("short") == "originals/short"


@pytest.mark.parametrize("key", ["a", "é" * 600, "🙂" * 255 + "x"])
def test_fitted_keys_never_split_a_character(key: str) -> None:
    fitted = fit_key("originals/", key, "/data.parquet")
    fitted.encode("utf-8")
    assert len(fitted.encode()) <= 1024
