"""Running the worker image with podman or docker, when this machine has one and the image
(the image of the sources as they are now, under code reload)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from batch_image.sources import LABEL, image_for, sources_digest
from filepipe.local.batch import AttemptResult, ProcessRunner, Runner
from filepipe.local.processes import REPOSITORY_ROOT

if TYPE_CHECKING:
    from filepipe.local.batch import LocalJob

_log = logging.getLogger(__name__)
_LOG_TAIL = 4000

PODMAN_FLAGS = ("--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000")
"""What podman needs on these machines (crun fails on rlimits; see shared/notes/local-cloud.md)."""


def container_engine() -> str | None:
    """``podman`` or ``docker``, whichever answers first, else None."""
    for engine in ("podman", "docker"):
        path = shutil.which(engine)
        if path and subprocess.run([path, "info"], capture_output=True, check=False).returncode == 0:
            return path
    return None


def image_exists(engine: str, image: str) -> bool:
    return subprocess.run([engine, "image", "inspect", image], capture_output=True, check=False).returncode == 0


class ContainerRunner:
    """``<engine> run --rm --network host -e ... IMAGE COMMAND``: the job as Batch would run it."""

    def __init__(self, engine: str, image: str) -> None:
        self.engine, self.image = engine, image
        self.description = f"container {image} ({engine.rsplit('/', 1)[-1]})"

    def command_line(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> list[str]:
        flags = list(PODMAN_FLAGS) if self.engine.endswith("podman") else []
        line = [self.engine, "run", "--rm", "--name", name, "--network", "host", *flags]
        for key, value in sorted(env.items()):
            line += ["-e", f"{key}={value}"]
        return [*line, self.image, *command]

    def run(self, job: LocalJob, command: Sequence[str], env: Mapping[str, str]) -> AttemptResult:
        name = self.container_name(job)
        process = subprocess.Popen(
            self.command_line(name, command, env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        job.process = process
        output, _ = process.communicate()
        job.process = None
        code = process.returncode
        reason = "Essential container in task exited"
        if code in (137, -9):
            reason = "OutOfMemoryError or killed: container exited with signal 9"
        return AttemptResult(code, reason, output.decode("utf-8", "replace")[-_LOG_TAIL:], container=name)

    @staticmethod
    def container_name(job: LocalJob) -> str:
        return f"filepipe-{job.job_id}-{len(job.attempts) + 1}"

    def stop(self, job: LocalJob, grace_seconds: int) -> None:
        """Stop the job's container (stopping the ``run`` client alone would leave it running)."""
        command = [self.engine, "stop", "--time", str(grace_seconds), self.container_name(job)]
        subprocess.run(command, capture_output=True, check=False)


def image_sources(engine: str, image: str) -> str | None:
    """The sources digest the image was built from (its ``io.filepipe.sources`` label)."""
    answer = subprocess.run(
        [engine, "image", "inspect", image, "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}'],
        capture_output=True,
        text=True,
        check=False,
    )
    label = answer.stdout.strip()
    return label if answer.returncode == 0 and label not in ("", "<no value>") else None


def choose_runner(mode: str, image: str | None, sources: str | None = None) -> Runner:
    """The runner for ``mode``, and why: ``auto`` runs jobs in the image when an engine has it
    and it was built from these sources, and otherwise as a subprocess, saying which and why;
    ``container`` refuses to run a missing or stale image. No ``image``: the one tagged with
    the sources' digest (``make image`` builds it)."""
    if mode == "process":
        return ProcessRunner("--runner process")
    sources = sources or sources_digest()
    image = image or image_for(sources)
    engine = container_engine()
    if engine is None:
        why = "no container engine"
    elif not image_exists(engine, image):
        why = f"no image {image}: make image builds it"
    elif image_sources(engine, image) != sources:
        why = f"the image {image} was built from other sources than these: make image rebuilds it"
    else:
        return ContainerRunner(engine, image)
    if mode == "container":
        raise RuntimeError(f"cannot run Batch jobs in a container: {why}")
    _log.warning("Batch jobs run the worker as a subprocess: %s", why)
    return ProcessRunner(why)


Notify = Callable[[str], None]
Build = Callable[[], bool]


def build_image() -> bool:
    """``make image``'s build of the sources as they are now; True when it succeeded."""
    script = REPOSITORY_ROOT / "batch_image" / "build-local-image.sh"
    env = {k: v for k, v in os.environ.items() if k != "IMAGE"}
    done = subprocess.run([str(script)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        _log.warning("building the worker image failed: %s", (done.stdout + done.stderr).strip()[-500:])
    return done.returncode == 0


class ImageOfSources:
    """Jobs in the image of the sources as they are now, for code reload: after
    :meth:`sources_changed`, the image tagged with the new digest, built in the background when
    missing; until it exists each job runs as a subprocess, and ``notify`` says so in one line."""

    def __init__(self, engine: str, sources: str, notify: Notify, build: Build = build_image) -> None:
        self.engine, self.sources, self.notify, self._build = engine, sources, notify, build
        self._container = ContainerRunner(engine, image_for(sources))
        self._process = ProcessRunner("code reload: the image of the new sources is not built yet")
        self._ran_with: dict[str, Runner] = {}
        self._lock = threading.Lock()
        self._builder: threading.Thread | None = None
        self._fallback = ""
        self.description = self._container.description

    @property
    def image(self) -> str:
        return image_for(self.sources)

    def sources_changed(self, sources: str) -> None:
        """Run later jobs in the image of ``sources``; build it unless it exists."""
        with self._lock:
            self.sources = sources
            if self._switch_if_built():
                return
            self._fallback = f"the image of the new sources, {self.image}, is being built"
            self.description = f"subprocess until {self.image} is built (code reload)"
            if self._builder is None:
                self._builder = threading.Thread(target=self._build_until_current, name="image-build", daemon=True)
                self._builder.start()

    def _switch_if_built(self) -> bool:
        if image_sources(self.engine, self.image) != self.sources:
            return False
        self._container = ContainerRunner(self.engine, self.image)
        self.description = self._container.description
        return True

    def _build_until_current(self) -> None:
        """Build until the image of the latest sources exists (an edit during a build asks for
        another), or a build fails."""
        while True:
            built = self._build()
            with self._lock:
                if self._switch_if_built() or not built:
                    self._builder = None
                    if not built:
                        self._fallback = f"{self.image} could not be built (make image says why)"
                        self.description = f"subprocess ({self._fallback})"
                    return

    @property
    def current(self) -> Runner:
        with self._lock:
            return self._container if self._container.image == self.image else self._process

    def run(self, job: LocalJob, command: Sequence[str], env: Mapping[str, str]) -> AttemptResult:
        runner = self.current
        if runner is self._process:
            self.notify(f"Batch job {job.name} fell back to a subprocess: {self._fallback}")
        with self._lock:
            self._ran_with[job.job_id] = runner
        try:
            return runner.run(job, command, env)
        finally:
            with self._lock:
                self._ran_with.pop(job.job_id, None)

    def stop(self, job: LocalJob, grace_seconds: int) -> None:
        with self._lock:
            runner = self._ran_with.get(job.job_id, self._container)
        runner.stop(job, grace_seconds)
