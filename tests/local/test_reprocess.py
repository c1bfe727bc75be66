"""Outputs an older transform made, run again: the same per-file path, nothing lost."""

from __future__ import annotations

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target, outdated_outputs, reprocess
from tests.local.helpers import settle
from tests.reliability.helpers import Uploaded, archived_version, assert_conserved, upload

pytestmark = pytest.mark.local


def test_reprocess_replaces_outputs_of_another_version_and_keeps_the_old_ones(
    cloud: LocalCloud, target: Target
) -> None:
    csvs = [upload(target, f"rp/{name}.csv", f"id,v\n1,{name}\n".encode()) for name in ("a", "b c", "d+e")]
    text = upload(target, "rp/notes.txt", b"not a csv")
    settle(target, 4)
    assert outdated_outputs(target, "csv-to-parquet", "2") == [], "this code's version made them"
    assert sorted(outdated_outputs(target, "csv-to-parquet", "3")) == sorted(u.key for u in csvs)

    done = reprocess(target, "csv-to-parquet", current_version="3")
    assert sorted((d.key, d.old_version) for d in done) == sorted((u.key, u.version_id) for u in csvs)
    views = settle(target, 7)
    assert {v.status for v in views} == {"SUCCEEDED"}

    again = []
    layout = target.layout
    for old in csvs:
        new_version = archived_version(target, old.key)
        assert new_version and new_version != old.version_id, "originals/<key> holds the reprocessed version"
        again.append(Uploaded(old.key, new_version, old.body))
        superseded = target.s3.head_object(
            Bucket=target.archive_bucket, Key=layout.superseded_output(old.key, old.version_id, "data.parquet")
        )
        assert superseded["Metadata"]["filepipe-source-version"] == old.version_id, "the older output is kept"
        output = target.s3.head_object(Bucket=target.archive_bucket, Key=layout.output(old.key, "data.parquet"))
        assert output["Metadata"]["filepipe-source-version"] == new_version
    assert_conserved(target, [*csvs, text, *again])
