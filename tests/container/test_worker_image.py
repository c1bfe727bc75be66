"""The Dockerfile, built here (podman, a debootstrapped base) and run as the Batch job."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from typing import Any

import pyarrow.parquet as pq
import pytest

from batch_image import job as job_contract
from filepipe.local import LocalCloud
from filepipe.local.containers import ContainerRunner
from filepipe.operations import Target
from tests.container.conftest import IMAGE
from tests.local.helpers import THRESHOLD, settle

pytestmark = pytest.mark.container


def csv_rows(n: int) -> bytes:
    return ("id,label,value\n" + "".join(f"{i},row {i},{i * 0.25}\n" for i in range(n))).encode()


def test_the_image_runs_as_a_non_root_user(engine: str) -> None:
    flags = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]
    flags = flags if engine.endswith("podman") else []
    result = subprocess.run(
        [engine, "run", "--rm", *flags, IMAGE, "id", "-u"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "10001"
    config = json.loads(
        subprocess.run([engine, "image", "inspect", IMAGE], capture_output=True, text=True, check=True).stdout
    )
    assert config[0]["Config"]["Cmd"] == list(job_contract.COMMAND)


def test_a_large_csv_is_processed_in_the_container(
    in_container: ContainerRunner, cloud: LocalCloud, target: Target
) -> None:
    body = csv_rows(30_000)
    assert len(body) > THRESHOLD
    target.s3.put_object(Bucket=target.staging_bucket, Key="containers/big.csv", Body=body)
    (view,) = settle(target, 1, timeout=180)
    assert (view.path, view.status) == ("batch", "SUCCEEDED")
    archived = target.s3.get_object(Bucket=target.archive_bucket, Key="originals/containers/big.csv")["Body"].read()
    assert archived == body
    parquet = target.s3.get_object(Bucket=target.archive_bucket, Key="outputs/containers/big.csv/data.parquet")["Body"]
    assert pq.read_table(io.BytesIO(parquet.read())).num_rows == 30_000
    assert cloud.batch is not None
    (job,) = cloud.batch.jobs.values()
    (attempt,) = job.attempts
    assert attempt["container"]["runner"] == in_container.description
    assert attempt["container"]["name"].startswith("filepipe-")
    result = json.loads(attempt["container"]["logTail"].strip().splitlines()[-1])
    assert result["status"] == "transformed" and result["uid"] == 10001, "the worker ran in the image, not here"


def submit(cloud: LocalCloud, command: list[str]) -> Any:
    assert cloud.batch is not None
    answer = cloud.batch.submit(
        {
            "jobName": "probe",
            "jobQueue": cloud.job_queue_arn,
            "jobDefinition": cloud.job_definition_arn,
        },
        command=command,
    )
    job = cloud.batch.jobs[answer["jobId"]]
    deadline = time.monotonic() + 120
    while job.status not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return job


def test_the_transient_exit_code_is_retried_per_the_retry_strategy(
    in_container: ContainerRunner, cloud: LocalCloud
) -> None:
    job = submit(cloud, ["python", "-c", f"raise SystemExit({job_contract.EXIT_TRANSIENT})"])
    assert job.status == "FAILED"
    assert [a["container"]["exitCode"] for a in job.attempts] == [75] * job_contract.ATTEMPTS


def test_the_permanent_exit_code_is_not_retried(in_container: ContainerRunner, cloud: LocalCloud) -> None:
    job = submit(cloud, ["python", "-c", f"raise SystemExit({job_contract.EXIT_PERMANENT})"])
    assert [a["container"]["exitCode"] for a in job.attempts] == [65]


def test_a_rejected_large_file_goes_to_the_failure_prefix(in_container: ContainerRunner, target: Target) -> None:
    body = csv_rows(30_000) + b"1,2,3,4,5\n"
    target.s3.put_object(Bucket=target.staging_bucket, Key="containers/broken.csv", Body=body)
    (view,) = settle(target, 1, timeout=180)
    assert (view.path, view.status, view.error) == ("batch", "FAILED", "TransformRejected")
    assert target.s3.get_object(Bucket=target.archive_bucket, Key="failed/containers/broken.csv")["Body"].read() == body
    record = json.loads(
        target.s3.get_object(Bucket=target.archive_bucket, Key="errors/containers/broken.csv.json")["Body"].read()
    )
    assert record["error"] == "TransformRejected", "the job's report, written in the container, tells why"
    assert "Expected 3 columns, got 5" in record["cause"]["errorMessage"]
    assert record["cause"]["batchJob"]["exitCode"] == 65
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="outputs/").get("Contents")


def test_a_container_killed_midway_leaves_nothing_half_written(
    in_container: ContainerRunner, engine: str, cloud: LocalCloud, target: Target
) -> None:
    body = csv_rows(6_000_000)
    target.s3.put_object(Bucket=target.staging_bucket, Key="containers/killed.csv", Body=body)
    assert cloud.batch is not None
    batch = cloud.batch
    killed: list[str] = []

    def kill_while_writing() -> None:
        """Kill the container once its output's multipart upload has begun: truly midway."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            uploads = target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads", [])
            running = [j for j in batch.jobs.values() if j.status == "RUNNING"]
            if uploads and running:
                name = in_container.container_name(running[0])
                subprocess.run([engine, "kill", name], capture_output=True, check=False)
                killed.append(name)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_while_writing)
    killer.start()
    (view,) = settle(target, 1, timeout=300)
    killer.join()
    assert killed, "the container was killed while writing its output"
    assert (view.path, view.status) == ("batch", "FAILED")
    (job,) = batch.jobs.values()
    assert job.attempts[0]["container"]["exitCode"] not in (0, None)
    assert not target.s3.list_objects_v2(Bucket=target.archive_bucket, Prefix="outputs/").get("Contents"), (
        "a killed worker leaves no output object"
    )
    assert target.s3.get_object(Bucket=target.archive_bucket, Key="failed/containers/killed.csv")["Body"].read() == body


def test_a_terminated_container_stops_cleanly_on_sigterm(
    in_container: ContainerRunner, cloud: LocalCloud, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TerminateJob stops the container as ECS does: SIGTERM to the worker, PID 1 in the container
    (which without a handler would ignore it), and SIGKILL only after the stop timeout."""
    assert cloud.batch is not None
    batch = cloud.batch
    monkeypatch.setattr(batch, "stop_timeout_seconds", 60)
    body = csv_rows(6_000_000)
    target.s3.put_object(Bucket=target.staging_bucket, Key="containers/terminated.csv", Body=body)
    deadline = time.monotonic() + 180
    while not target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads"):
        assert time.monotonic() < deadline, "the worker began its output's multipart upload"
        time.sleep(0.05)
    (job,) = batch.jobs.values()
    asked = time.monotonic()
    cloud.client("batch").terminate_job(jobId=job.job_id, reason="operator: cancelled")
    (view,) = settle(target, 1, timeout=180)
    assert time.monotonic() - asked < 50, "the container stopped on SIGTERM, well before the stop timeout"
    assert (view.path, view.status) == ("batch", "FAILED")
    assert [a["container"]["exitCode"] for a in job.attempts] == [job_contract.EXIT_TRANSIENT]
    assert job.status_reason == "operator: cancelled"
    assert not target.s3.list_multipart_uploads(Bucket=target.archive_bucket).get("Uploads"), "no upload left open"
    failed = target.s3.get_object(Bucket=target.archive_bucket, Key="failed/containers/terminated.csv")
    assert failed["Body"].read() == body


def test_a_stale_image_is_never_run_silently(engine: str) -> None:
    """The image carries the digest of the sources it was built from: one built from other
    sources runs nothing unless told, and the runner says why it chose what it chose."""
    from batch_image.sources import sources_digest
    from filepipe.local.containers import ContainerRunner, choose_runner, image_sources

    assert image_sources(engine, IMAGE) == sources_digest(), "make image labels the image with its sources"
    assert isinstance(choose_runner("auto", IMAGE), ContainerRunner)
    stale = choose_runner("auto", IMAGE, sources="0000000000000000")
    assert "built from other sources" in stale.description and "make image" in stale.description
    with pytest.raises(RuntimeError, match="other sources"):
        choose_runner("container", IMAGE, sources="0000000000000000")
    assert choose_runner("process", IMAGE).description == "subprocess (--runner process)"
    assert "no image" in choose_runner("auto", "localhost/no-such-image:latest").description


def test_each_checkout_runs_the_image_tagged_with_its_sources(engine: str) -> None:
    """make image tags the image with the sources' digest instead of a shared :latest, and the
    local cloud picks the tag of its own sources: another checkout's build is not this one's."""
    from batch_image.sources import image_for, sources_digest
    from filepipe.local.containers import ContainerRunner, choose_runner

    assert image_for() == f"localhost/filepipe-worker:{sources_digest()}"
    mine = choose_runner("auto", None)
    assert isinstance(mine, ContainerRunner) and mine.image == image_for()
    other = choose_runner("auto", None, sources="0000000000000000")
    assert "no image localhost/filepipe-worker:0000000000000000" in other.description
