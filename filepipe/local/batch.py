"""Local AWS Batch: SubmitJob, DescribeJobs and TerminateJob, running the real worker.

A job runs the job definition's command with its environment plus the submit's overrides, in
a container when an engine and the image are there (``ContainerRunner``), otherwise as a child
process of this interpreter (``ProcessRunner``). Attempts follow the job retry strategy of
``batch_image/job.py``, the one the CDK job definition is built from.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from batch_image import job as job_contract
from filepipe.local import batch_requests as checked
from filepipe.local.batch_requests import ClientException
from filepipe.local.processes import REPOSITORY_ROOT, child_environment

_log = logging.getLogger(__name__)
_LOG_TAIL = 4000
CREDENTIALS_PATH = "/_filepipe/task-credentials"
"""Where a job's container finds its task role's credentials (ECS serves them at 169.254.170.2)."""
_PLATFORM_VARIABLES = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN")


@dataclass(frozen=True)
class AttemptResult:
    exit_code: int | None
    reason: str
    log_tail: str = ""
    container: str | None = None
    """The container's name when the attempt ran in one."""


class Runner(Protocol):
    """Runs one attempt of a job and waits for it; stops it as ECS stops a task."""

    description: str

    def run(self, job: LocalJob, command: Sequence[str], env: Mapping[str, str]) -> AttemptResult: ...

    def stop(self, job: LocalJob, grace_seconds: int) -> None:
        """SIGTERM, then SIGKILL if the attempt still runs ``grace_seconds`` later."""


@dataclass
class LocalJob:
    job_id: str
    name: str
    queue: str
    definition: str
    command: list[str]
    environment: dict[str, str]
    status: str = "SUBMITTED"
    status_reason: str = ""
    created_at: int = field(default_factory=lambda: int(time.time() * 1000))
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    terminate_reason: str | None = None
    credentials_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """What the job shows the local credentials endpoint to get its task role's credentials."""

    def describe(self) -> dict[str, Any]:
        """The job as DescribeJobs answers (camelCase, as the Batch API does)."""
        last = self.attempts[-1]["container"] if self.attempts else {}
        return {
            "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{self.job_id}",
            "jobId": self.job_id,
            "jobName": self.name,
            "jobQueue": self.queue,
            "jobDefinition": self.definition,
            "status": self.status,
            "statusReason": self.status_reason,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "stoppedAt": self.stopped_at,
            "attempts": self.attempts,
            "container": {
                "command": self.command,
                "exitCode": last.get("exitCode"),
                "reason": last.get("reason"),
                "environment": [
                    {"name": k, "value": v} for k, v in sorted(self.environment.items()) if k not in _PLATFORM_VARIABLES
                ],
            },
            "platformCapabilities": ["FARGATE"],
        }


AttemptInterceptor = Callable[[LocalJob, int], "AttemptResult | None"]
"""Called before each attempt; a result returned replaces running it (fault injection)."""


class ProcessRunner:
    """The worker as a child process of this Python (the job's ``python`` is this interpreter)."""

    def __init__(self, why: str = "--runner process") -> None:
        self.description = f"subprocess ({why})"

    def run(self, job: LocalJob, command: Sequence[str], env: Mapping[str, str]) -> AttemptResult:
        argv = [sys.executable, *command[1:]] if command and command[0] == "python" else list(command)
        process = subprocess.Popen(
            argv, env=child_environment(env), cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        job.process = process
        if job.terminate_reason:
            process.terminate()
        output, _ = process.communicate()
        job.process = None
        code = process.returncode
        reason = "Essential container in task exited" if code >= 0 else f"Killed by signal {-code}"
        return AttemptResult(code, reason, output.decode("utf-8", "replace")[-_LOG_TAIL:])

    def stop(self, job: LocalJob, grace_seconds: int) -> None:
        process = job.process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()


class LocalBatch:
    def __init__(
        self,
        *,
        queue_arn: str,
        definition_arn: str,
        environment: Mapping[str, str],
        runner: Runner,
        command: Sequence[str] = job_contract.COMMAND,
        attempts: int = job_contract.ATTEMPTS,
        stop_timeout_seconds: int = 30,
        vcpus: float = 2,
        memory_mib: int = 4096,
    ) -> None:
        refused = job_contract.fargate_size_error(vcpus, memory_mib)
        if refused:  # RegisterJobDefinition refuses it in AWS: the stack would not deploy
            raise ValueError(f"job definition: {refused}")
        self.queue_arn, self.definition_arn = queue_arn, definition_arn
        self.vcpus, self.memory_mib = vcpus, memory_mib
        self.environment = dict(environment)
        """The job definition's environment; submit overrides add to it."""
        self._command = list(command)
        self._attempts = attempts
        self.stop_timeout_seconds = stop_timeout_seconds
        """Between SIGTERM and SIGKILL when a job is terminated (ECS's ``stopTimeout``, 30 s by default)."""
        self.runner = runner
        self.credentials: Callable[[], dict[str, str]] | None = None
        """A new session of the job role, as the container credentials endpoint answers
        (``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``Expiration``); None: jobs get none."""
        self.credentials_url = ""
        """The endpoint's URL for it, given to every job as ``AWS_CONTAINER_CREDENTIALS_FULL_URI``."""
        self.jobs: dict[str, LocalJob] = {}
        self.interceptors: list[AttemptInterceptor] = []
        self._lock = threading.Lock()
        self._capacity: int | None = None
        self._running = 0
        self._capacity_changed = threading.Condition(self._lock)

    @property
    def capacity(self) -> int | None:
        """Jobs that may run at once (None: no limit). Above it jobs wait RUNNABLE, as they do
        when the compute environment has no room; 0 simulates a Batch with no capacity at all."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int | None) -> None:
        with self._capacity_changed:
            self._capacity = value
            self._capacity_changed.notify_all()

    def submit(self, request: Mapping[str, Any], command: Sequence[str] | None = None) -> dict[str, Any]:
        """SubmitJob: start the job in the background, answer at once; a request Batch refuses
        raises :class:`ClientException` (``batch_requests.py`` says what is checked).

        The API refuses ``containerOverrides.command``; ``command`` lets code in this process
        (the tests' probes of the retry strategy) run another one in the image.
        """
        request = checked.request_object(request)
        if request.get("jobQueue") not in (self.queue_arn, self.queue_arn.rsplit("/", 1)[-1]):
            raise ClientException(f"no job queue {request.get('jobQueue')!r}")
        if request.get("jobDefinition") != self.definition_arn:
            raise ClientException(f"no job definition {request.get('jobDefinition')!r}")
        name = checked.job_name(request)
        overrides = checked.overrides(request)
        if overrides.get("command"):
            raise ClientException(
                "the local cloud runs only the job definition's command: containerOverrides.command is refused "
                "(the workflow never overrides it, and here a job runs on the developer's machine)"
            )
        self._check_size(checked.listed(overrides.get("resourceRequirements"), "resourceRequirements"))
        env = self.environment | checked.environment(overrides.get("environment"), self.environment)
        job = LocalJob(
            job_id=str(uuid.uuid4()),
            name=name,
            queue=self.queue_arn,
            definition=self.definition_arn,
            command=list(command or self._command),
            environment=env,
        )
        if self.credentials is not None:
            job.environment |= {
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.credentials_url,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": job.credentials_token,
            }
        with self._lock:
            self.jobs[job.job_id] = job
        threading.Thread(target=self._run, args=(job,), name=f"batch-{job.name}", daemon=True).start()
        return {"jobArn": job.describe()["jobArn"], "jobName": job.name, "jobId": job.job_id}

    def _check_size(self, requirements: Sequence[Mapping[str, Any]]) -> None:
        """A job's size overrides must be a Fargate size too (SubmitJob's ClientException)."""
        if not all(isinstance(r, dict) for r in requirements):
            raise ClientException("each resourceRequirements entry must be an object with a type and a value")
        asked = {str(r.get("type", "")).upper(): str(r.get("value", "")) for r in requirements}
        try:
            vcpus = float(asked.get("VCPU", self.vcpus))
            memory = int(asked.get("MEMORY", self.memory_mib))
        except ValueError:
            raise ClientException(f"resourceRequirements {requirements!r} are not numbers") from None
        refused = job_contract.fargate_size_error(vcpus, memory)
        if refused:
            raise ClientException(refused)

    def task_credentials(self, token: str) -> dict[str, str] | None:
        """The task role's credentials for the running job that holds ``token``, else None."""
        if self.credentials is None or not token:
            return None
        with self._lock:
            job = next((j for j in self.jobs.values() if secrets.compare_digest(j.credentials_token, token)), None)
        if job is None or job.status not in ("RUNNABLE", "STARTING", "RUNNING"):
            return None
        return self.credentials()

    def describe(self, job_ids: Sequence[str]) -> dict[str, Any]:
        return {"jobs": [self.jobs[j].describe() for j in job_ids if j in self.jobs]}

    def terminate(self, job_id: str, reason: str) -> dict[str, Any]:
        """TerminateJob: no further attempts; the running one is stopped in the background."""
        job = self.jobs.get(job_id)
        if job is not None and job.status not in ("SUCCEEDED", "FAILED"):
            with self._capacity_changed:
                job.terminate_reason = reason or "Terminated"
                self._capacity_changed.notify_all()
            threading.Thread(
                target=self.runner.stop, args=(job, self.stop_timeout_seconds), name=f"stop-{job.name}", daemon=True
            ).start()
        return {}

    def _run(self, job: LocalJob) -> None:
        job.status = "RUNNABLE"
        if not self._wait_for_capacity(job):
            self._finish(job, "FAILED", job.terminate_reason or "Terminated")
            return
        try:
            self._attempt_all(job)
        except Exception as exc:  # this thread is the job's only keeper: it must end, never stay RUNNING
            _log.exception("job %s could not run", job.name)
            self._finish(job, "FAILED", f"CannotStartContainerError: {exc}")
        finally:
            with self._capacity_changed:
                self._running -= 1
                self._capacity_changed.notify_all()

    def _wait_for_capacity(self, job: LocalJob) -> bool:
        """Hold the job RUNNABLE until there is room; False when it was terminated meanwhile."""
        with self._capacity_changed:
            while not job.terminate_reason and self._capacity is not None and self._running >= self._capacity:
                self._capacity_changed.wait()
            if job.terminate_reason:
                return False
            self._running += 1
            return True

    def _attempt_all(self, job: LocalJob) -> None:
        for attempt in range(1, self._attempts + 1):
            if job.terminate_reason:
                break
            job.status = "RUNNING"
            started = int(time.time() * 1000)
            job.started_at = job.started_at or started
            result = self._attempt(job, attempt)
            job.attempts.append(
                {
                    "container": {
                        "exitCode": result.exit_code,
                        "reason": result.reason,
                        "logTail": result.log_tail,
                        "runner": self.runner.description,
                        "name": result.container,
                    },
                    "startedAt": started,
                    "stoppedAt": int(time.time() * 1000),
                    "statusReason": result.reason,
                }
            )
            if result.exit_code == 0:
                _log.info("job %s attempt %d exited 0", job.name, attempt)
            else:
                tail = result.log_tail.strip().splitlines()[-3:]
                _log.warning("job %s attempt %d exited %s: %s", job.name, attempt, result.exit_code, " | ".join(tail))
            if result.exit_code == 0:
                self._finish(job, "SUCCEEDED", "Essential container in task exited")
                return
            if job.terminate_reason or not job_contract.should_retry(result.exit_code, result.reason):
                break
        self._finish(job, "FAILED", job.terminate_reason or job.attempts[-1]["statusReason"])

    def _attempt(self, job: LocalJob, attempt: int) -> AttemptResult:
        for intercept in list(self.interceptors):
            forced = intercept(job, attempt)
            if forced is not None:
                return forced
        try:
            return self.runner.run(job, job.command, job.environment)
        except (OSError, ValueError) as exc:  # no such program, or arguments a process cannot take
            return AttemptResult(None, f"CannotStartContainerError: {exc}")

    @staticmethod
    def _finish(job: LocalJob, status: str, reason: str) -> None:
        job.status_reason = reason
        job.stopped_at = int(time.time() * 1000)
        job.status = status
