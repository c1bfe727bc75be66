"""What the local cloud runs: the deployment (``filepipe/deployment.py``) under local names.

The stack's resources get CloudFormation's names; here every one is named from one stem
(``filepipe``): buckets ``filepipe-staging``/``filepipe-archive``, the Standard machine
``filepipe`` and the others beside it (``filepipe-express``, ...), the intake queue
``filepipe-intake``, the claims table ``filepipe-claims``, a role and a function per principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from filepipe.deployment import MACHINES, Deployment
from filepipe.grants import PRINCIPALS, Names, Principal

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
"""What the developer, the CLI and the tests sign with: the account's administrator
(LocalStack's ``test``/``test``, so the AWS CLI and SDKs work with the usual settings)."""
STEM = "filepipe"
STAGING_BUCKET = f"{STEM}-staging"
ARCHIVE_BUCKET = f"{STEM}-archive"
LOCAL_USER = ("developer", "Filepipe-local-1")
"""Who signs in to the local upload page (and ``filepipe upload --user``); ``up`` prints it."""


@dataclass(frozen=True)
class LocalNaming:
    """How the local cloud names the deployment's resources."""

    staging_bucket: str = STAGING_BUCKET
    archive_bucket: str = ARCHIVE_BUCKET
    stem: str = STEM

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"

    def machine_name(self, key: str) -> str:
        return f"{self.stem}{MACHINES[key].suffix}"

    def machine_arn(self, key: str) -> str:
        return self.arn("states", f"stateMachine:{self.machine_name(key)}")

    def log_group(self, key: str) -> str:
        """The machine's execution log group, named as the stack names it (``/aws/vendedlogs/``)."""
        return f"/aws/vendedlogs/states/{self.stem}-{MACHINES[key].log_purpose}"

    @property
    def queue_name(self) -> str:
        return f"{self.stem}-intake"

    @property
    def claims_table(self) -> str:
        return f"{self.stem}-claims"

    @staticmethod
    def function_name(principal: str) -> str:
        return f"filepipe-{principal.replace('_', '-')}"

    @staticmethod
    def role_name(principal: str) -> str:
        return f"filepipe-{principal.replace('_', '-')}"

    def role_arn(self, principal: str) -> str:
        return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{self.role_name(principal)}"

    @property
    def job_queue_arn(self) -> str:
        return self.arn("batch", "job-queue/filepipe")

    @property
    def job_definition_arn(self) -> str:
        return self.arn("batch", "job-definition/filepipe-worker:1")

    def names(self, deployment: Deployment, kms_key: str | None = None) -> Names:
        """The grants' names for these resources."""
        buckets = {"staging": self.staging_bucket, "archive": self.archive_bucket}
        return Names(
            partition=PARTITION,
            region=REGION,
            account=ACCOUNT,
            buckets=buckets,
            bucket_arns={b: f"arn:{PARTITION}:s3:::{name}" for b, name in buckets.items()},
            prefixes=deployment.area_prefixes(),
            machines={key: self.machine_name(key) for key in MACHINES},
            functions={p: self.arn("lambda", f"function:{self.function_name(p)}") for p in deployment.functions()},
            roles={p: self.role_arn(p) for p in PRINCIPALS},
            claims_table=self.arn("dynamodb", f"table/{self.claims_table}"),
            queue=self.arn("sqs", self.queue_name),
            job_queue=self.job_queue_arn,
            job_definition=self.job_definition_arn,
            kms_key=kms_key,
        )


@dataclass(frozen=True)
class LocalConfig:
    """What ``filepipe up`` takes on its command line: the deployment's settings (the stack's
    defaults), and how this machine runs them."""

    deployment: Deployment = field(default_factory=Deployment)
    host: str = "127.0.0.1"
    port: int = 4566
    naming: LocalNaming = field(default_factory=LocalNaming)
    retry_after_seconds: int = 5
    """Seconds before a message the trigger reported as failed is delivered again. The queue's
    visibility timeout is the stack's (6x the trigger's timeout), so a message is never delivered
    twice while a trigger works on it; a failed one is made visible sooner than in AWS (where it
    waits out that timeout), so that a local retry does not take minutes."""
    function_concurrency: int = 4
    """Invocations at once (warm environments, one process each) of each workflow function."""
    runner: str = "auto"
    """How Batch jobs run: ``auto`` (a container when an engine and the image exist), ``container``
    or ``process``."""
    image: str | None = None
    """The worker image; None: the one ``make image`` builds from these sources
    (``localhost/filepipe-worker:<sources digest>``, ``batch_image/sources.py``)."""
    state_dir: Path | None = None
    """Where buckets, queues, executions, users and the claims table are kept across restarts
    (``state.py``); None: in memory only."""
    reload: bool = False
    """Code reload (``reload.py``): an edit to the sources is run by the next invocation and job
    (``filepipe up`` turns it on unless ``--no-reload``)."""
    grants: Mapping[str, Principal] = field(default_factory=lambda: dict(PRINCIPALS))
    """Each role's grants: the stack's. The tests' mutation control runs with one removed."""
    kms: bool = False
    """Both buckets encrypt with a KMS key of their own (SSE-KMS by default), and every role is
    granted it as the stack grants ``kmsKeyArn``; S3 then uses it as each caller, as in AWS."""
    idle_timeout_seconds: int = 15
    """How long a connection may sit idle (a body shorter than its Content-Length, a stalled
    client) before it is closed, so that it does not hold a server thread indefinitely."""
    request_timeout_seconds: int = 60
    """How long a request may take to arrive, plus a second for every 64 KiB it sends
    (``server.py``): a client dribbling a byte every few seconds is never idle, and is cut off
    when this runs out."""

    @property
    def staging_bucket(self) -> str:
        return self.naming.staging_bucket

    @property
    def archive_bucket(self) -> str:
        return self.naming.archive_bucket

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Browser origins allowed besides the local cloud's own (the stack's ``corsAllowedOrigins``)."""
        return self.deployment.cors_allowed_origins
