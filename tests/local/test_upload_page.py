"""The upload page in a real browser: Debian's Chromium driven by Playwright, against the local cloud."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import PRESIGN_MAX

pytestmark = pytest.mark.local

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: .ci/run installs Debian's chromium package")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def test_small_and_large_files_upload_and_are_archived(
    browser,
    cloud: LocalCloud,
    target: Target,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    small = tmp_path / "cities.csv"
    small.write_bytes(b"city,population\nLagos,15388000\nLima,10883000\n")
    large = tmp_path / "video frames.bin"
    large.write_bytes(os.urandom(12 * 1024 * 1024))
    assert large.stat().st_size > PRESIGN_MAX, "the large file takes the multipart path"

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{cloud.endpoint}/ui/")
    page.set_input_files("#files", [str(small), str(large)])
    page.wait_for_function(
        "document.querySelectorAll('#rows tr').length === 2 && [...document.querySelectorAll('#rows tr')]"
        ".every(r => ['archived', 'failed', 'error'].includes(r.dataset.state))",
        timeout=90_000,
    )
    states = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => [r.dataset.name, r.dataset.state])")
    progress = page.eval_on_selector_all("#rows progress", "bars => bars.map(b => b.value)")
    page.screenshot(path=os.environ.get("FILEPIPE_SCREENSHOT", str(tmp_path / "upload-page.png")))
    page.close()

    assert errors == []
    assert sorted(states) == [["cities.csv", "archived"], ["video frames.bin", "archived"]]
    assert progress == [1, 1]
    originals = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/uploads/")["Contents"]
    by_name = {o["Key"].rsplit("/", 1)[-1]: o["Key"] for o in originals}
    for path in (small, large):
        body = target.s3.get_object(Bucket=target.archive_bucket, Key=by_name[path.name])["Body"].read()
        assert body == path.read_bytes(), path.name
    assert not target.s3.list_multipart_uploads(Bucket=target.staging_bucket).get("Uploads")
