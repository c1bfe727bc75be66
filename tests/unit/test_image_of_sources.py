"""Code reload's Batch runner: jobs run in the image of the sources as they are now, or as a
subprocess, saying so in one line, while that image is built or when it cannot be.

The container engine is a stand-in script that knows the images a directory lists and "runs"
one by printing its name, so the choices are seen without building anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from batch_image.sources import image_for
from filepipe.local.batch import LocalJob
from filepipe.local.containers import ImageOfSources

ENGINE = """#!/bin/sh
if [ "$1 $2" = "image inspect" ]; then
  label="{images}/$(echo "$3" | tr / _)"
  [ -f "$label" ] && cat "$label" && exit 0
  exit 125
fi
if [ "$1" = run ]; then
  while [ "$#" -gt 0 ]; do case "$1" in localhost/*) echo "container $1"; exit 0;; esac; shift; done
fi
exit 2
"""
ECHO = ["python", "-c", "print('subprocess')"]


def job(name: str) -> LocalJob:
    return LocalJob(job_id=name, name=name, queue="q", definition="d", command=ECHO, environment={})


class Images:
    """The stand-in engine's images, and a build that makes the one asked for when released."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "images"
        self.dir.mkdir()
        self.engine = root / "engine"
        self.engine.write_text(ENGINE.format(images=self.dir))
        self.engine.chmod(0o755)
        self.released = threading.Event()
        self.succeeds = True
        self.builds: list[str] = []
        self.runner: ImageOfSources | None = None

    def add(self, sources: str) -> None:
        (self.dir / image_for(sources).replace("/", "_")).write_text(sources + "\n")

    def build(self) -> bool:
        assert self.runner is not None
        self.released.wait(30)
        self.builds.append(self.runner.sources)
        if self.succeeds:
            self.add(self.runner.sources)
        return self.succeeds


def ran(runner: ImageOfSources, name: str) -> str:
    return runner.run(job(name), ECHO, {}).log_tail.strip()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def test_jobs_follow_the_sources_and_say_when_they_fall_back(tmp_path: Path) -> None:
    images = Images(tmp_path)
    images.add("aaaa")
    notices: list[str] = []
    runner = images.runner = ImageOfSources(str(images.engine), "aaaa", notices.append, images.build)
    assert ran(runner, "first") == f"container {image_for('aaaa')}"

    runner.sources_changed("bbbb")
    assert ran(runner, "while-building") == "subprocess"
    assert notices == [
        f"Batch job while-building fell back to a subprocess: the image of the new sources, {image_for('bbbb')}, "
        "is being built"
    ]
    images.released.set()
    wait_for(lambda: runner.description.startswith("container"))
    assert ran(runner, "after-build") == f"container {image_for('bbbb')}"
    assert images.builds == ["bbbb"]

    images.add("aaaa")
    runner.sources_changed("aaaa")
    assert ran(runner, "back") == f"container {image_for('aaaa')}", "an image already built is not built again"
    assert images.builds == ["bbbb"] and len(notices) == 1


def test_a_failed_build_leaves_jobs_on_a_subprocess_and_says_so(tmp_path: Path) -> None:
    images = Images(tmp_path)
    images.add("aaaa")
    images.released.set()
    images.succeeds = False
    notices: list[str] = []
    runner = images.runner = ImageOfSources(str(images.engine), "aaaa", notices.append, images.build)
    runner.sources_changed("cccc")
    wait_for(lambda: "could not be built" in runner.description)
    assert ran(runner, "after-failure") == "subprocess"
    assert notices == [
        f"Batch job after-failure fell back to a subprocess: {image_for('cccc')} could not be built "
        "(make image says why)"
    ]
