"""A seeded random workload: hundreds of files of mixed sizes, names and faults, and afterwards
every uploaded version in exactly one place."""

from __future__ import annotations

import os
import random
import threading
from typing import Any

import pytest

from filepipe.errors import TransientError
from filepipe.local import LocalCloud
from filepipe.local.batch import AttemptResult, LocalJob
from filepipe.operations import Target
from tests.local.helpers import THRESHOLD, settle
from tests.reliability.helpers import Uploaded, assert_conserved, upload

pytestmark = pytest.mark.local

SEED = int(os.environ.get("FILEPIPE_SEED", "20261126"))
FILES = int(os.environ.get("FILEPIPE_CONSERVATION_FILES", "240"))
NAMES = ["report", "Q3 résumé", "a+b", "100%", "日本語", "spaces  twice", "émoji ✓", "plain"]


def workload(rng: random.Random) -> list[tuple[str, bytes]]:
    files = []
    for i in range(FILES):
        name = f"load/{rng.choice(NAMES)} {i}"
        kind = rng.random()
        if kind < 0.55:
            files.append(
                (f"{name}.csv", ("a,b\n" + "".join(f"{j},{j * 2}\n" for j in range(rng.randint(1, 50)))).encode())
            )
        elif kind < 0.65:
            files.append((f"{name}.csv", b"a,b\n1,2,3\n"))  # rejected by csv-to-parquet
        elif kind < 0.67:
            files.append((f"{name}.csv", ("a,b\n" + "1,2\n" * (THRESHOLD // 4 + 10)).encode()))  # the Batch path
        else:
            files.append((f"{name}.bin", rng.randbytes(rng.randint(0, 4096))))
    for _ in range(FILES // 20):  # some keys get a second version
        key, _ = rng.choice(files)
        files.append((key, b"second version of " + key.encode()))
    return files


def test_a_random_workload_conserves_every_version(cloud: LocalCloud, target: Target) -> None:
    rng = random.Random(SEED)
    lock = threading.Lock()

    def transient_faults(function: str, event: Any) -> None:
        with lock:
            unlucky = function in ("filepipe-transform", "filepipe-archive") and rng.random() < 0.05
        if unlucky:
            raise TransientError("injected: S3 answered 503 SlowDown")

    def batch_faults(job: LocalJob, attempt: int) -> AttemptResult | None:
        with lock:
            unlucky = attempt == 1 and rng.random() < 0.5
        return AttemptResult(75, "Essential container in task exited") if unlucky else None

    cloud.lambdas.interceptors.append(transient_faults)
    assert cloud.batch is not None
    cloud.batch.interceptors.append(batch_faults)
    uploaded: list[Uploaded] = [upload(target, key, body) for key, body in workload(rng)]

    views = settle(target, len(uploaded), timeout=600)
    statuses = [v.status for v in views]
    assert set(statuses) <= {"SUCCEEDED", "FAILED"}
    failed = {v.key for v in views if v.status == "FAILED"}
    assert failed and all(k.endswith(".csv") for k in failed), "only the malformed CSVs fail"
    assert any(v.path == "batch" for v in views)
    assert_conserved(target, uploaded)
