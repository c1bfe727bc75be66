"""Outputs an older transform made, run again by the reprocess machine's Distributed Map: the
same per-file path, nothing lost, and a newer upload never overtaken by an older original."""

from __future__ import annotations

import pytest

from filepipe.local import LocalCloud
from filepipe.map_runs import start_reprocess
from filepipe.operations import Target
from tests.local.helpers import follow_map_run, settle
from tests.reliability.helpers import Uploaded, archived_version, assert_conserved, upload

pytestmark = pytest.mark.local


def test_reprocess_replaces_outputs_of_another_version_and_keeps_the_old_ones(
    cloud: LocalCloud, target: Target
) -> None:
    csvs = [upload(target, f"rp/{name}.csv", f"id,v\n1,{name}\n".encode()) for name in ("a", "b c", "é+e")]
    text = upload(target, "rp/notes.txt", b"not a csv")
    elsewhere = upload(target, "kept/k.csv", b"id,v\n1,k\n")
    settle(target, 5)

    items = follow_map_run(target, start_reprocess(target, "csv-to-parquet"))
    assert items["failed"] == 0 and items["total"] >= 5, "every output listed"
    assert len(settle(target, 5)) == 5, "this code's version made every output: nothing went back"

    # A newer upload of one key waits in staging (its event held back) while the reprocess runs:
    # its older original must not be sent back over it.
    with cloud.intake_paused():
        newer = upload(target, csvs[2].key, b"id,v\n2,newer\n")
        items = follow_map_run(target, start_reprocess(target, "csv-to-parquet", current_version="9", prefix="rp/"))
    assert items["failed"] == 0
    views = settle(target, 5 + 2 + 1)
    assert len(views) == 8 and {v.status for v in views} == {"SUCCEEDED"}

    layout = target.layout
    again = []
    for old in csvs[:2]:
        new_version = archived_version(target, old.key)
        assert new_version and new_version != old.version_id, "originals/<key> holds the reprocessed version"
        again.append(Uploaded(old.key, new_version, old.body))
        superseded = target.s3.head_object(
            Bucket=target.archive_bucket, Key=layout.superseded_output(old.key, old.version_id, "data.parquet")
        )
        assert superseded["Metadata"]["filepipe-source-version"] == old.version_id, "the older output is kept"
        output = target.s3.head_object(Bucket=target.archive_bucket, Key=layout.output(old.key, "data.parquet"))
        assert output["Metadata"]["filepipe-source-version"] == new_version
    assert archived_version(target, newer.key) == newer.version_id, "the newer upload is current, not the old copy"
    assert archived_version(target, elsewhere.key) == elsewhere.version_id, "outside the prefix: untouched"
    assert_conserved(target, [*csvs, text, elsewhere, newer, *again])


def test_the_cli_follows_the_map_run_and_refuses_an_unknown_transform(cloud: LocalCloud, target: Target) -> None:
    from click.testing import CliRunner

    from filepipe.cli import main

    item = upload(target, "cli/a.csv", b"id\n1\n")
    settle(target, 1)
    result = CliRunner().invoke(
        main, ["reprocess", "csv-to-parquet", "--current-version", "9", "--endpoint", cloud.endpoint]
    )
    assert result.exit_code == 0, result.output
    assert "reprocess started: arn:aws:states:" in result.output
    assert "reprocess succeeded: 1 listed" in result.output
    (sent,) = [line for line in result.output.splitlines() if line.strip().startswith("sent back")]
    assert sent.split()[-1] == "1", "it says how many originals it sent back"
    views = settle(target, 2)
    assert {v.status for v in views} == {"SUCCEEDED"}
    again = Uploaded(item.key, str(archived_version(target, item.key)), item.body)
    assert again.version_id != item.version_id

    unknown = CliRunner().invoke(main, ["reprocess", "csv-to-json", "--endpoint", cloud.endpoint])
    assert unknown.exit_code != 0 and "no transform named 'csv-to-json'" in unknown.output
    assert_conserved(target, [item, again])
