"""Code reload in ``filepipe up``: an edit to a transform is run by the next file, on both paths.

``up`` runs from a copy of the sources, so that the test edits the copy and never the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from batch_image.sources import SOURCES
from filepipe.cli._target import local_target
from filepipe.operations import Target
from tests.local.helpers import RunningUp, by_key, free_port, settle

pytestmark = pytest.mark.local
TRANSFORM = Path("filepipe/transforms/csv_to_parquet.py")
THRESHOLD = 1024
"""Files above it take the Batch path."""
SMALL = b"a,b\n1,2\n"
LARGE = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 2) for i in range(400))


def copy_of_the_sources(into: Path) -> Path:
    """What ``up`` imports and runs: the image's sources and the state machines."""
    root = Path(__file__).resolve().parents[2]
    into.mkdir()
    for name in (*SOURCES, "state_machine"):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)
    return into


def output_version(target: Target, key: str) -> str:
    head = target.s3.head_object(Bucket=target.archive_bucket, Key=f"outputs/{key}/data.parquet")
    return str(head["Metadata"]["filepipe-transform-version"])


def process_both(target: Target, prefix: str, already: int) -> dict[str, str]:
    """A small and a large file through the pipeline: each one's path and its output's version."""
    target.s3.put_object(Bucket=target.staging_bucket, Key=f"{prefix}/small.csv", Body=SMALL)
    target.s3.put_object(Bucket=target.staging_bucket, Key=f"{prefix}/large.csv", Body=LARGE)
    views = by_key(settle(target, already + 2, timeout=120))
    ran = {}
    for name in ("small.csv", "large.csv"):
        view = views[f"{prefix}/{name}"]
        assert view.status == "SUCCEEDED", view
        ran[view.path] = output_version(target, f"{prefix}/{name}")
    return ran


def test_an_edited_transform_runs_on_the_next_file_on_both_paths(tmp_path: Path) -> None:
    sources = copy_of_the_sources(tmp_path / "project")
    declared = re.search(r'version = "([^"]+)"', (sources / TRANSFORM).read_text())
    assert declared, "the transform declares no version"
    version, edited = declared[1], f"{declared[1]}-edited"
    argv = [sys.executable, "-c", "from filepipe.cli import main; main()", "up", "--runner", "process"]
    argv += ["--large-file-threshold", f"{THRESHOLD}B", "--function-concurrency", "1"]
    env = os.environ | {"PYTHONPATH": str(sources)}
    up = RunningUp(argv, free_port(), cwd=str(sources), env=env)
    try:
        banner = up.wait_for_banner()
        assert "code reload      on" in banner, banner
        target = local_target(up.endpoint)
        assert process_both(target, "before", 0) == {"lambda": version, "batch": version}

        transform = sources / TRANSFORM
        transform.write_text(transform.read_text().replace(f'version = "{version}"', f'version = "{edited}"'))
        up.wait_for_line(f"reloaded {TRANSFORM.as_posix()}")
        assert process_both(target, "after", 2) == {"lambda": edited, "batch": edited}
    finally:
        code = up.stop()
    assert code == 0, up.output
