"""The local cloud holds no more files after a thousand requests than after ten (issue 25): a
version listing used to leave moto's copy of each large version open in the temporary directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from filepipe.config import Settings
from filepipe.events import ObjectRef
from filepipe.local import LocalCloud
from filepipe.moves import locate

pytestmark = pytest.mark.local

LARGE = 4096
"""Over the key buffer size these tests give moto (its default is 5 MiB): kept in a temporary file."""


def open_files() -> tuple[int, int]:
    """The files this process holds open (the local cloud runs in it; its sockets, whose number
    follows the connection pools, are not counted), and the bytes of those in the temporary
    directory (deleted ones included: they hold their space until closed)."""
    temp = os.path.realpath(tempfile.gettempdir())
    count, temp_bytes = 0, 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            size = os.stat(f"/proc/self/fd/{fd}").st_size
        except OSError:  # closed meanwhile (the listing's own descriptor among them)
            continue
        if target.startswith("/"):
            count += 1
            temp_bytes += size if target.startswith(temp + "/") else 0
    return count, temp_bytes


def test_version_listings_and_retries_leave_no_files_behind(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline's "object gone" path (a retry finding a failed file's original in the
    archive's history) and plain listings, a thousand in all: open files and temporary-directory
    usage stay where they were after the first few."""
    monkeypatch.setenv("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", "1024")
    s3 = cloud.client("s3")
    archive = cloud.config.archive_bucket
    settings = Settings(staging_bucket=cloud.config.staging_bucket, archive_bucket=archive)
    failed = settings.layout.failed_copy("in/a.csv")
    older = s3.put_object(Bucket=archive, Key=failed, Body=b"a" * LARGE, Metadata={"filepipe-source-version": "v1"})
    s3.put_object(Bucket=archive, Key=failed, Body=b"b" * LARGE, Metadata={"filepipe-source-version": "v2"})
    for n in range(3):
        s3.put_object(Bucket=archive, Key=f"originals/other-{n}.bin", Body=os.urandom(LARGE))
    s3.delete_object(Bucket=archive, Key="originals/other-0.bin")
    gone = ObjectRef(cloud.config.staging_bucket, "in/a.csv", "v1", None, LARGE, None)

    def listings(n: int) -> None:
        for i in range(n):
            if i % 2:
                found = locate(s3, gone, settings)
                assert found is not None and found.version_id == older["VersionId"]
            else:
                page = s3.list_object_versions(Bucket=archive, Prefix="originals/", MaxKeys=1)
                assert len(page.get("Versions", []) + page.get("DeleteMarkers", [])) == 1

    listings(10)
    files, temp_bytes = open_files()
    listings(990)
    after_files, after_temp_bytes = open_files()
    assert after_temp_bytes <= temp_bytes, f"{after_temp_bytes - temp_bytes} more bytes in {tempfile.gettempdir()}"
    assert after_files == files, f"{after_files - files} more open files"


def test_the_measure_sees_a_held_temporary_file(tmp_path: Path) -> None:
    """The control: what the test above counts moves when a temporary file is held open."""
    files, temp_bytes = open_files()
    with tempfile.TemporaryFile() as held:
        held.write(b"x" * LARGE)
        held.flush()
        assert open_files() == (files + 1, temp_bytes + LARGE)
