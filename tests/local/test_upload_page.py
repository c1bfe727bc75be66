"""The upload page in a real browser: Debian's Chromium driven by Playwright, against the local cloud."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from filepipe.local import LocalCloud
from filepipe.local.config import LOCAL_USER
from filepipe.operations import Target
from tests.local.helpers import PRESIGN_MAX

pytestmark = pytest.mark.local


def signed_in(page, cloud: LocalCloud) -> None:  # type: ignore[no-untyped-def]
    """Open the page and sign in as a user does: the labelled fields, then the button."""
    page.goto(f"{cloud.endpoint}/ui/")
    username, password = LOCAL_USER
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {username}.").first.wait_for()


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
    refused: list[str] = []
    page.on("response", lambda response: refused.append(response.url) if response.status >= 400 else None)
    signed_in(page, cloud)
    page.set_input_files("#files", [str(small), str(large)])
    page.wait_for_function(
        "document.querySelectorAll('#rows tr').length === 2 && [...document.querySelectorAll('#rows tr')]"
        ".every(r => ['archived', 'failed', 'error'].includes(r.dataset.state))",
        timeout=90_000,
    )
    states = page.eval_on_selector_all("#rows tr", "rows => rows.map(r => [r.dataset.name, r.dataset.state])")
    progress = page.eval_on_selector_all("#rows progress", "bars => bars.map(b => b.value)")
    icon = page.eval_on_selector("link[rel=icon]", "link => link.href")
    page.screenshot(path=os.environ.get("FILEPIPE_SCREENSHOT", str(tmp_path / "upload-page.png")))
    page.close()

    assert errors == []
    assert refused == [], "the page asks for nothing it is refused"
    assert icon.startswith("data:"), "browsers would ask /favicon.ico, a 403 on every load (headless Chromium does not)"
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
    signed_in(first, cloud)
    first.set_input_files("#files", str(large))
    first.wait_for_function(f"{SAVED_PARTS}.join() === '1'", timeout=60_000)
    first.close()
    assert held, "the other parts were on their way when the page went away"

    second = context.new_page()
    requests: list[str] = []
    second.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    signed_in(second, cloud)
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


def test_nothing_is_uploaded_before_sign_in_and_a_wrong_password_is_said(browser, cloud: LocalCloud) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{cloud.endpoint}/ui/")
    chooser = page.get_by_label("Choose files to upload (or drop them here)")
    assert chooser.is_disabled()
    page.get_by_label("User name").fill(LOCAL_USER[0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("status").filter(has_text="Sign-in failed").wait_for()
    assert chooser.is_disabled()
    page.close()


def test_the_page_is_usable_by_keyboard_and_says_what_happens(
    browser,
    cloud: LocalCloud,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The file chooser is reached with Tab, fields and progress bars have names, status changes
    are announced in a live region, and a failure says why in one line."""
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"a,b\n1,2,3\n")
    page = browser.new_page()
    signed_in(page, cloud)
    page.keyboard.press("Shift+Tab")
    for _ in range(6):
        if page.evaluate("document.activeElement.id") == "files":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "files", "the file chooser takes keyboard focus"
    page.get_by_label("Choose files to upload (or drop them here)").set_input_files(str(broken))
    assert page.get_by_role("progressbar", name="upload of broken.csv").count() == 1
    live = page.get_by_role("status")
    live.filter(has_text="broken.csv: failed").wait_for(timeout=60_000)
    row = page.locator("#rows tr", has_text="broken.csv")
    assert "Expected 2 columns, got 3" in row.inner_text() and "1,2,3" not in row.inner_text()
    assert "failed: TransformRejected" in live.inner_text()
    page.close()


def test_an_upload_outlasting_its_credentials_renews_them(
    browser,
    cloud: LocalCloud,
    target: Target,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The grant's hour runs out after the first part (its session ends, as an hour would end
    it): S3 refuses the next part, the page renews the credentials and finishes."""
    from moto.sts.models import sts_backends

    large = tmp_path / "long.bin"
    large.write_bytes(os.urandom(12 * 1024 * 1024))
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    ended = []

    def end_the_hour_after_part_one(route) -> None:  # type: ignore[no-untyped-def]
        if "partNumber=1&" in route.request.url and not ended:
            role = cloud.naming.role_arn("upload")
            for session in sts_backends["123456789012"]["aws"].assumed_roles:
                if session.role_arn == role:
                    session.expiration = session.expiration.replace(year=2000)
            ended.append(True)
            route.continue_()
        else:
            route.continue_()

    page.route(lambda url: "partNumber=" in url, end_the_hour_after_part_one)
    signed_in(page, cloud)
    page.set_input_files("#files", str(large))
    page.wait_for_function("document.querySelector('#rows tr')?.dataset.state === 'archived'", timeout=90_000)
    page.close()
    assert [r for r in requests if r.startswith("POST") and r.endswith("/api/uploads/renew")], "renewed"
    (original,) = target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="originals/uploads/")["Contents"]
    assert target.s3.get_object(Bucket=target.archive_bucket, Key=original["Key"])["Body"].read() == large.read_bytes()
