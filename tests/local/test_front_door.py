"""The local cloud is not an open door on the developer's machine: pages from other origins,
DNS-rebinding hosts and unsigned calls are refused before they reach a service, and malformed
requests get JSON answers (issue 12)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from filepipe.cli._local import host_warning
from filepipe.local import LocalCloud
from filepipe.local.guard import FrontDoor, host_name, is_loopback
from tests.local import helpers
from tests.local.conftest import REBINDING_HOST
from tests.local.test_uploads import token

pytestmark = pytest.mark.local


def raw(cloud: LocalCloud, request: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (any Host, any Origin) and read the answer."""
    return helpers.raw(cloud.port, request, timeout)


def request(method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_only_its_own_host_names_are_answered(cloud: LocalCloud) -> None:
    here = f"127.0.0.1:{cloud.port}"
    assert raw(cloud, request("GET", "/ui/", here))[0] == 200
    assert raw(cloud, request("GET", "/ui/", f"localhost:{cloud.port}"))[0] == 200
    status, _, body = raw(cloud, request("GET", "/ui/", f"{REBINDING_HOST}:{cloud.port}"))
    assert (status, json.loads(body)["__type"]) == (403, "ForbiddenHost")
    assert raw(cloud, request("GET", "/ui/", "attacker.example"))[0] == 403


def test_only_allowed_origins_get_through_and_cors_names_only_them(cloud: LocalCloud) -> None:
    here, own = f"127.0.0.1:{cloud.port}", f"http://127.0.0.1:{cloud.port}"
    preflight = {"Origin": "http://localhost:4566", "Access-Control-Request-Method": "PUT"}
    status, headers, _ = raw(cloud, request("OPTIONS", "/filepipe-staging/x.csv", here, preflight))
    assert (status, headers["access-control-allow-origin"]) == (200, "http://localhost:4566")
    status, headers, _ = raw(
        cloud, request("OPTIONS", "/filepipe-staging/x.csv", here, preflight | {"Origin": "http://evil.example"})
    )
    assert status == 403 and "access-control-allow-origin" not in headers
    status, headers, _ = raw(cloud, request("GET", "/ui/", here, {"Origin": own}))
    assert (status, headers["access-control-allow-origin"]) == (200, own), "moto's any-origin answer is replaced"
    status, _, body = raw(cloud, request("POST", "/api/uploads", here, {"Origin": "null"}, b"{}"))
    assert (status, json.loads(body)["__type"]) == (403, "ForbiddenOrigin")


def test_unsigned_calls_never_reach_a_service_and_unknown_paths_answer_json(cloud: LocalCloud) -> None:
    here = f"127.0.0.1:{cloud.port}"
    for method, path in (("POST", "/foo/bar"), ("POST", "/API/uploads"), ("GET", "/filepipe-archive?list-type=2")):
        status, headers, body = raw(cloud, request(method, path, here))
        assert status == 403 and headers["content-type"] == "application/json", (path, body)
        assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    signed_in = {"Content-Type": "application/json", "Authorization": f"Bearer {token(cloud)}"}
    status, headers, body = raw(cloud, request("POST", "/api/uploads", here, signed_in, b"\xff\xfe{"))
    assert (status, headers["content-type"], "error" in json.loads(body)) == (400, "application/json", True)


def test_bodies_are_capped_and_stalled_ones_time_out(cloud: LocalCloud) -> None:
    here = f"127.0.0.1:{cloud.port}"
    huge = request("PUT", "/filepipe-staging/huge.bin", here).replace(
        b"Content-Length: 0", b"Content-Length: 6442450944"
    )
    status, _, body = raw(cloud, huge)
    assert (status, json.loads(body)["__type"]) == (413, "EntityTooLarge"), "refused before a byte is read"
    invoke = f"/2015-03-31/functions/{cloud.functions['transform'].name}/invocations"
    payload = request("POST", invoke, here).replace(b"Content-Length: 0", b"Content-Length: 7000000")
    assert raw(cloud, payload)[0] == 413, "Lambda's 6 MB payload limit"
    started = time.monotonic()
    short = request("POST", "/api/uploads", here).replace(b"Content-Length: 0", b"Content-Length: 100") + b"{"
    with socket.create_connection(("127.0.0.1", cloud.port), timeout=60) as stalled:
        stalled.sendall(short)
        assert raw(cloud, request("GET", "/ui/", here))[0] == 200, "others are served meanwhile"
        stalled.recv(65536)
    assert time.monotonic() - started < cloud.config.idle_timeout_seconds + 10, "the stalled request was let go"


def test_batch_runs_only_the_job_definitions_command(cloud: LocalCloud, tmp_path: Path) -> None:
    batch = cloud.client("batch")
    marker = tmp_path / "marker"
    submit = {"jobName": "x", "jobQueue": cloud.job_queue_arn, "jobDefinition": cloud.job_definition_arn}
    for overrides in (
        {"command": ["sh", "-c", f"id > {marker}"]},
        {"environment": [{"name": "PYTHONSTARTUP", "value": "/tmp/evil.py"}]},
        {"environment": [{"name": "AWS_BATCH_JOB_ID", "value": "x"}]},
    ):
        with pytest.raises(batch.exceptions.ClientException):
            batch.submit_job(**submit, containerOverrides=overrides)
    assert cloud.batch is not None and cloud.batch.jobs == {}
    assert not marker.exists()


def test_a_non_loopback_host_is_warned_about() -> None:
    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None and host_warning("::1") is None
    assert "other machines" in str(host_warning("0.0.0.0"))
    assert is_loopback("127.0.0.2") and not is_loopback("192.168.1.5")
    door = FrontDoor.for_endpoint("192.168.1.5", 4566)
    assert door.allows_host("192.168.1.5:4566") and door.allows_origin("http://192.168.1.5:4566")
    assert host_name("[::1]:4566") == "::1" and door.allows_host("[::1]:4566")


ATTACK = """<!doctype html><title>another page</title><script>
const cloud = "{cloud}";
async function attempt(name, url, init) {{
  try {{ const r = await fetch(url, init); return [name, "answered", r.type, r.status]; }}
  catch (e) {{ return [name, "refused", String(e)]; }}
}}
window.results = Promise.all([
  attempt("submitjob", cloud + "/v1/submitjob", {{method: "POST", mode: "no-cors", body: JSON.stringify({{
    jobName: "x", jobQueue: "{queue}", jobDefinition: "{definition}",
    containerOverrides: {{command: ["sh", "-c", "id > {marker}"]}}}})}}),
  attempt("invoke", cloud + "/2015-03-31/functions/{function}/invocations",
    {{method: "POST", mode: "no-cors", body: "{{}}"}}),
  attempt("list", cloud + "/filepipe-archive?list-type=2", {{}}),
  attempt("put", cloud + "/filepipe-staging/planted.txt", {{method: "PUT", mode: "no-cors", body: "x"}}),
  attempt("grant", cloud + "/api/uploads", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{filename: "x.csv", contentType: "text/csv", size: 1}})}}),
]);
</script>"""


@pytest.fixture
def other_origin(cloud: LocalCloud, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A page served from another loopback port: another origin on the same machine."""
    marker = tmp_path / "marker"
    page = ATTACK.format(
        cloud=cloud.endpoint,
        queue=cloud.job_queue_arn,
        definition=cloud.job_definition_arn,
        marker=marker,
        function=cloud.functions["transform"].name,
    ).encode()
    with helpers.page_elsewhere(page) as url:
        yield url, marker


def test_a_page_from_another_origin_can_do_nothing(
    browser: Any, cloud: LocalCloud, other_origin: tuple[str, Path]
) -> None:
    url, marker = other_origin
    page = browser.new_page()
    page.goto(url)
    results = {r[0]: r[1:] for r in page.evaluate("window.results")}
    page.close()
    assert results["list"][0] == "refused" and results["grant"][0] == "refused", results
    time.sleep(1)
    assert cloud.batch is not None and cloud.batch.jobs == {}, "no job was submitted"
    assert not marker.exists(), "no command ran"
    assert cloud.lambdas.invocations.get(cloud.functions["transform"].name, 0) == 0
    staging = cloud.client("s3").list_objects_v2(Bucket=cloud.config.staging_bucket)
    assert staging["KeyCount"] == 0, "nothing was planted"
    refused = {(reason, path) for reason, path in cloud.refusals}
    for path in ("/v1/submitjob", f"/2015-03-31/functions/{cloud.functions['transform'].name}/invocations"):
        assert ("ForbiddenOrigin", path) in refused, "the request reached the local cloud and was refused there"


def test_a_dns_rebinding_page_is_refused(browser: Any, cloud: LocalCloud) -> None:
    page = browser.new_page()
    answer = page.goto(f"http://{REBINDING_HOST}:{cloud.port}/ui/")
    listing = page.evaluate("fetch('/filepipe-archive?list-type=2').then(r => r.status)")
    page.close()
    assert answer is not None and answer.status == 403
    assert listing == 403
