"""Reprocess decisions: which outputs are outdated, and an original sent back only while staging
has no file of its key (a newer upload must never be overtaken by an older original)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from filepipe import reprocess
from filepipe.config import Settings, key_metadata
from filepipe.errors import MalformedEvent
from filepipe.local import adapter
from filepipe.reprocess import (
    META_REPROCESS_OF,
    is_outdated,
    parse_reprocess_batch,
    reprocess_batch,
    reprocess_output,
)
from filepipe.storage import MIN_PART_SIZE

KEY = "in/é b+c.csv"


def archived(s3: Any, settings: Settings, key: str = KEY, version: str = "1", body: bytes = b"id\n1\n") -> str:
    """An original and its output in the archive, as the pipeline leaves them; the output's key."""
    layout = settings.layout
    s3.put_object(
        Bucket=settings.archive_bucket,
        Key=layout.original(key),
        Body=body,
        ContentType="text/csv",
        Metadata={"filepipe-source-version": "v-original", "filepipe-key": key_metadata(key)},
    )
    output = layout.output(key, "data.parquet")
    s3.put_object(
        Bucket=settings.archive_bucket,
        Key=output,
        Body=b"parquet",
        Metadata={
            "filepipe-transform": "csv-to-parquet",
            "filepipe-transform-version": version,
            "filepipe-key": key_metadata(key),
        },
    )
    return output


def test_batches_are_parsed_strictly() -> None:
    batch = parse_reprocess_batch({"Items": [{"Key": "outputs/a"}], "BatchInput": {"transform": "t", "version": "2"}})
    assert (batch.output_keys, batch.transform, batch.version) == (["outputs/a"], "t", "2")
    for bad in (
        {"Items": [{"Key": "a"}]},
        {"Items": [{"Size": 1}], "BatchInput": {"transform": "t", "version": "2"}},
        {"Items": [], "BatchInput": {"transform": "t"}},
        {"Records": []},
    ):
        with pytest.raises(MalformedEvent):
            parse_reprocess_batch(bad)


def test_outdated_means_this_transform_at_another_version() -> None:
    made = {"filepipe-transform": "csv-to-parquet", "filepipe-transform-version": "1", "filepipe-key": "YQ=="}
    assert is_outdated(made, "csv-to-parquet", "2")
    assert not is_outdated(made, "csv-to-parquet", "1")
    assert not is_outdated(made, "other", "2")
    assert not is_outdated({k: v for k, v in made.items() if k != "filepipe-key"}, "csv-to-parquet", "2")
    assert is_outdated({k: v for k, v in made.items() if k != "filepipe-transform-version"}, "csv-to-parquet", "2")


def test_an_outdated_original_goes_back_once(s3: Any, settings: Settings) -> None:
    output = archived(s3, settings)
    assert reprocess_output(s3, settings, output, "csv-to-parquet", "1").outcome == "current"
    sent = reprocess_output(s3, settings, output, "csv-to-parquet", "2")
    assert (sent.outcome, sent.key) == ("reprocessed", KEY)
    copy = s3.get_object(Bucket=settings.staging_bucket, Key=KEY)
    assert copy["Body"].read() == b"id\n1\n" and copy["ContentType"] == "text/csv"
    assert copy["Metadata"][META_REPROCESS_OF] == "v-original"
    again = reprocess_batch(
        s3,
        settings,
        parse_reprocess_batch(
            {
                "Items": [{"Key": output}, {"Key": "outputs/gone/data.parquet"}],
                "BatchInput": {"transform": "csv-to-parquet", "version": "2"},
            }
        ),
    )
    assert again == {
        "reprocessed": [],
        "current": [],
        "inFlight": [output],
        "failed": [],
        "gone": ["outputs/gone/data.parquet"],
    }
    versions = s3.list_object_versions(Bucket=settings.staging_bucket)["Versions"]
    assert len(versions) == 1, "a second reprocess sent nothing while the first copy waits in staging"


@pytest.mark.parametrize("multipart", [False, True])
def test_an_upload_landing_after_the_look_is_not_overtaken(
    s3: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch, multipart: bool
) -> None:
    """The copy itself is conditional (If-None-Match: *): the staging check cannot be raced."""
    adapter.apply()  # the local cloud's S3 refuses a conditional copy over a key, as S3 does
    body = os.urandom(2 * MIN_PART_SIZE + 1) if multipart else b"id\n1\n"
    output = archived(s3, settings, body=body)
    if multipart:
        settings = Settings(
            settings.staging_bucket,
            settings.archive_bucket,
            copy_multipart_threshold=MIN_PART_SIZE,
            copy_part_size=MIN_PART_SIZE,
        )
    newer = s3.put_object(Bucket=settings.staging_bucket, Key=KEY, Body=b"id\n2\n")["VersionId"]
    looked = reprocess.head

    def staging_looks_empty(s3: Any, **params: Any) -> Any:
        return None if params["Bucket"] == settings.staging_bucket else looked(s3, **params)

    monkeypatch.setattr(reprocess, "head", staging_looks_empty)
    assert reprocess_output(s3, settings, output, "csv-to-parquet", "2").outcome == "inFlight"
    versions = s3.list_object_versions(Bucket=settings.staging_bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [newer], "the newer upload is still the only version"
    assert not s3.list_multipart_uploads(Bucket=settings.staging_bucket).get("Uploads"), "no part left behind"


def test_an_original_never_overtakes_a_newer_upload_that_failed(s3: Any, settings: Settings) -> None:
    """The key's latest upload failed (its error record waits for a fix or a retry): sending the
    older original back would archive it as the newest version and mark that failure resolved."""
    output = archived(s3, settings)
    s3.put_object(Bucket=settings.archive_bucket, Key=settings.layout.error_record(KEY), Body=b"{}")
    decision = reprocess_output(s3, settings, output, "csv-to-parquet", "2")
    assert (decision.outcome, decision.key) == ("failed", KEY)
    assert not s3.list_object_versions(Bucket=settings.staging_bucket).get("Versions"), "nothing sent back"
