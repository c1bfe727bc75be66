"""The upload page in a real browser: Debian's Chromium driven by Playwright, against the local cloud."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import PRESIGN_MAX

pytestmark = pytest.mark.local


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


SAVED_PARTS = (
    "Object.keys(localStorage).filter(k => k.startsWith('filepipe-upload:'))"
    ".map(k => JSON.parse(localStorage.getItem(k)).etags.filter(Boolean).length)"
)


def test_a_multipart_upload_cut_short_resumes_with_only_the_missing_parts(
    browser,
    cloud: LocalCloud,
    target: Target,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    large = tmp_path / "survey.bin"
    large.write_bytes(os.urandom(12 * 1024 * 1024))
    context = browser.new_context()
    first = context.new_page()
    held = []

    def send_only_the_first_part(route) -> None:  # type: ignore[no-untyped-def]
        if "partNumber=1&" in route.request.url:
            route.continue_()
        else:
            held.append(route)  # never answered: the page goes away first

    first.route(lambda url: "partNumber=" in url, send_only_the_first_part)
    first.goto(f"{cloud.endpoint}/ui/")
    first.set_input_files("#files", str(large))
    first.wait_for_function(f"{SAVED_PARTS}.join() === '1'", timeout=60_000)
    first.close()
    assert held, "the other parts were on their way when the page went away"

    second = context.new_page()
    requests: list[str] = []
    second.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    second.goto(f"{cloud.endpoint}/ui/")
    second.set_input_files("#files", str(large))
    second.wait_for_function("document.querySelector('#rows tr')?.dataset.state === 'archived'", timeout=90_000)
    status_seen = second.evaluate("document.querySelector('#rows tr .status').textContent")
    left = second.evaluate(SAVED_PARTS)
    context.close()

    parts = sorted(int(r.split("partNumber=")[1].split("&")[0]) for r in requests if "partNumber=" in r)
    assert parts == [2, 3], "only the missing parts were sent again"
    assert not [r for r in requests if r.startswith("POST") and ("?uploads" in r or "/api/uploads" in r)]
    assert status_seen == "archived" and left == []
    (original,) = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/uploads/")["Contents"]
    assert target.s3.get_object(Bucket=target.archive_bucket, Key=original["Key"])["Body"].read() == large.read_bytes()
    assert not target.s3.list_multipart_uploads(Bucket=target.staging_bucket).get("Uploads")
