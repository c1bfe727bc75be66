"""Permissions, enforced: the failure role's missing grant reproduced and fixed, and the mutation
control showing that the local cloud really holds every principal to its role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from filepipe.grants import PRINCIPALS, Bucket, Kind, Named, Objects, Resource, grant_covering
from filepipe.local import LocalCloud
from filepipe.operations import Target, error_records
from filepipe.retries import redrive, stranded
from tests.conftest import REVOKE, keys
from tests.local.helpers import settle, staging_versions
from tests.reliability.helpers import assert_conserved, upload

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "tests/local/test_pipeline.py::test_boto3_uploads_end_where_they_should"
BATCH = "tests/local/test_pipeline.py::test_the_batch_path_runs_the_worker_with_the_job_definitions_environment"
UPLOADS = "tests/local/test_uploads.py::test_cli_uploads_small_and_multipart_files_and_waits"
REPROCESS = "tests/local/test_reprocess.py::test_reprocess_replaces_outputs_of_another_version_and_keeps_the_old_ones"
MANIFEST = "tests/local/test_backfill.py::test_a_backfill_from_a_key_list_or_an_inventory_starts_exactly_those_keys"


def grant_index(principal: str, resource: Resource) -> int:
    return grant_covering(PRINCIPALS[principal], resource)


def test_a_refused_failure_move_is_reported_then_redriven_once_the_grant_is_back(
    cloud: LocalCloud, target: Target
) -> None:
    """Issue 11's bug: the failure role could not read originals/, so in AWS every failure move
    was refused and the file stayed in staging with no record. Enforced locally, the stack as it
    was strands the file, visibly; with the grant the redrive moves it to failed/ with its record."""
    cloud.identities.revoke("failure", grant_index("failure", Objects("archive", ("originals",))))
    item = upload(target, "in/broken.csv", b"a,b\n1,2,3\n")
    (view,) = settle(target, 1)
    assert (view.status, view.error) == ("FAILED", "DeploymentError")
    cause = json.loads(target.sfn.describe_execution(executionArn=view.arn)["cause"])
    assert "the role of filepipe-failure may not make this call" in cause["errorMessage"]
    assert [v["VersionId"] for v in staging_versions(target)] == [item.version_id], "still in staging"
    assert keys(target.s3, target.archive_bucket, "failed/") == []
    assert error_records(target) == []
    ((ref, attempts),) = stranded(target)
    assert (ref.key, ref.version_id, attempts) == (item.key, item.version_id, 1)

    cloud.identities.restore()
    ((key, name, started),) = redrive(target)
    assert (key, started) == (item.key, True)
    retried = {v.name: v for v in settle(target, 2)}[name]
    assert (retried.status, retried.error) == ("FAILED", "TransformRejected")
    (record,) = error_records(target)
    assert (record.ref.key, record.error, record.ref.version_id) == (item.key, "TransformRejected", item.version_id)
    assert stranded(target) == []
    assert_conserved(target, [item])


MUTATIONS = [
    ("transform", Objects("archive", ("outputs",)), PIPELINE),
    ("archive", Objects("staging"), PIPELINE),
    ("failure", Objects("archive", ("failed",)), PIPELINE),
    # The Failed step's verdict answers its task token (SendTaskFailure).
    ("failure", Named(Kind.ANY), PIPELINE),
    ("job", Objects("archive", ("outputs",)), BATCH),
    ("upload_api", Objects("staging", ("uploads",)), UPLOADS),
    ("upload", Objects("staging", ("uploads",)), UPLOADS),
    ("trigger", Named(Kind.STATE_MACHINE, "standard"), PIPELINE),
    ("state_machine", Named(Kind.FUNCTION, "transform"), PIPELINE),
    ("reprocess", Objects("staging"), REPROCESS),
    ("reprocess_state_machine", Named(Kind.FUNCTION, "reprocess"), REPROCESS),
    # A Distributed Map's ItemReader reads S3 with the machine's role: a listing, and a manifest.
    ("reprocess_state_machine", Bucket("archive"), REPROCESS),
    ("backfill_state_machine", Objects("archive", ("manifests",)), MANIFEST),
]


def run_without(principal: str, resource: Resource, test: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {REVOKE: f"{principal}:{grant_index(principal, resource)}"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_without_any_one_grant_a_named_end_to_end_test_fails() -> None:
    """The control: remove one grant from each role in turn (an S3 grant from each function's and
    the job's role; the trigger's StartExecution; the state machines' invokes) and the named test,
    green with every grant, fails for want of it. Were enforcement off, every run would pass."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda m: run_without(*m), MUTATIONS))
    for (principal, resource, test), run in zip(MUTATIONS, runs, strict=True):
        output = run.stdout + run.stderr
        assert run.returncode == 1 and "1 failed" in output, (
            f"{test} without {principal}'s {resource}:\n{output[-3000:]}"
        )
        refused = ("DeploymentError", "AccessDenied", "403")
        assert any(word in output for word in refused), f"{principal}: the failure is not a refusal:\n{output[-3000:]}"
