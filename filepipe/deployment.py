"""One description of the deployment: every setting and its default, the functions, the state
machines and what their placeholders and environments hold.

``stack/`` renders it into constructs and ``filepipe.local`` runs it, so what the stack creates
and what the local cloud runs are read from here. Resource names differ between the two (CDK
tokens, local strings): both hand theirs in as :class:`filepipe.grants.Names`.

Example::

    deployment = Deployment.from_context({"largeFileThresholdBytes": "1048576"}.get)
    deployment.functions()["transform"].memory_mb          # 2048
    deployment.definition_values("standard", names)         # the ASL file's placeholders
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import state_machine
from filepipe.config import CORS_ALLOWED_ORIGINS, ArchiveLayout
from filepipe.grants import Names
from filepipe.storage import MiB
from filepipe.uploads import UploadConfig
from state_machine import BACKFILL_PATH, DEFINITION_PATH, REPROCESS_PATH

TRIGGER_TIMEOUT_SECONDS = 60
BATCH_TIMEOUT_ATTEMPTS = 3
"""A Batch task waits for capacity, then up to this many attempts of the job (``batch_image/job.py``)."""
VISIBILITY_FACTOR = 6
"""AWS's advice: a queue's visibility timeout at least 6x its consumer's timeout."""
UPLOAD_API_TIMEOUT_SECONDS = 29
"""API Gateway's integration timeout: the function cannot usefully run longer."""
MOVES_MEMORY_MB = 512


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: whose role it runs with, its handler (the image's CMD), its size."""

    principal: str
    """The grants table's principal (``filepipe/grants.py``), and the function's key."""
    construct_id: str
    handler: str
    memory_mb: int
    timeout_seconds: int

    @property
    def local_name(self) -> str:
        return f"filepipe-{self.principal.replace('_', '-')}"


MachineType = Literal["STANDARD", "EXPRESS"]


@dataclass(frozen=True)
class MachineSpec:
    """One state machine: its definition, its role's principal, its type and where it logs."""

    key: str
    principal: str
    type: MachineType
    path: Path | None
    """Its ASL file; None: derived from the Standard one (``state_machine.express_template``)."""
    suffix: str
    """Its name beside the Standard one's (``-express``); named machines use it in the stack too."""
    log_purpose: str
    """The last part of its log group's name (``/aws/vendedlogs/states/<stack>-<purpose>``)."""
    execution_data: bool
    """Whether its logs carry each state's input and output."""

    def template(self) -> str:
        """The definition's text, placeholders and all."""
        return self.path.read_text(encoding="utf-8") if self.path else state_machine.express_template()


MACHINES: dict[str, MachineSpec] = {
    m.key: m
    for m in (
        MachineSpec("standard", "state_machine", "STANDARD", DEFINITION_PATH, "", "executions", True),
        MachineSpec("express", "express_state_machine", "EXPRESS", None, "-express", "express-executions", True),
        MachineSpec("backfill", "backfill_state_machine", "STANDARD", BACKFILL_PATH, "-backfill", "backfill", False),
        MachineSpec(
            "reprocess", "reprocess_state_machine", "STANDARD", REPROCESS_PATH, "-reprocess", "reprocess", False
        ),
    )
}
"""Every state machine the pipeline has, by key (the grants table names them so)."""
LISTING_MACHINES = ("backfill", "reprocess")
"""The machines whose Distributed Map works through an S3 listing; they carry fixed names (their
own roles name them, which a reference could not do without a cycle)."""

_CONTEXT_KEY_OVERRIDES = {"removal_policy_destroy": "destroyOnRemoval"}
_LIST_SETTINGS = ("cors_allowed_origins", "upload_jwt_audience", "upload_content_types")


@dataclass(frozen=True)
class Deployment:
    """Every deploy-time setting with its default, each with the CDK context key that sets it
    (``cdk deploy -c key=value``); ``filepipe up`` takes the same settings."""

    large_file_threshold_bytes: int = 128 * MiB
    """``largeFileThresholdBytes``: files above this go to AWS Batch, the rest to Lambda."""
    transform_memory_mb: int = 2048
    """``transformMemoryMb``: memory of the transformer Lambda."""
    transform_timeout_seconds: int = 600
    """``transformTimeoutSeconds``: timeout of the transformer Lambda (at most 900)."""
    moves_timeout_seconds: int = 900
    """``movesTimeoutSeconds``: timeout of the archive and failure Lambdas (multipart copies)."""
    batch_vcpus: float = 2.0
    """``batchVcpus``: vCPUs of one Batch job (a Fargate size: 0.25 to 16)."""
    batch_memory_mb: int = 4096
    """``batchMemoryMb``: memory of one Batch job (must suit the vCPUs on Fargate)."""
    batch_max_vcpus: int = 32
    """``batchMaxVcpus``: the compute environment's ceiling."""
    batch_job_timeout_seconds: int = 4 * 3600
    """``batchJobTimeoutSeconds``: one job attempt's limit; the workflow waits at most 3x this."""
    batch_runnable_timeout_seconds: int = 3600
    """``batchRunnableTimeoutSeconds``: how long a job may wait for capacity before it is
    cancelled (and the file moved to the failure prefix, to be retried later)."""
    batch_spot: bool = False
    """``batchSpot``: run Batch on Fargate Spot (cheaper; interrupted jobs are retried)."""
    log_retention_days: int = 30
    """``logRetentionDays``: retention of every log group the stack creates."""
    noncurrent_version_expiration_days: int = 30
    """``noncurrentVersionExpirationDays``: how long staging keeps replaced versions."""
    archive_noncurrent_version_expiration_days: int = 90
    """``archiveNoncurrentVersionExpirationDays``: how long the archive keeps replaced versions
    of originals and outputs (a reprocessed or newer file's predecessors)."""
    failure_history_days: int = 365
    """``failureHistoryDays``: how long replaced versions under the failure prefix and its records
    are kept; a retry looks for its file among them."""
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    """``originalsPrefix``, ``outputsPrefix``, ... (``<area>Prefix`` for each area of
    :class:`~filepipe.config.ArchiveLayout`): the archive bucket's layout."""
    cors_allowed_origins: tuple[str, ...] = CORS_ALLOWED_ORIGINS
    """``corsAllowedOrigins``: origins allowed to PUT/POST into staging (comma-separated)."""
    trigger_batch_size: int = 10
    """``triggerBatchSize``: S3 events per trigger invocation."""
    trigger_max_concurrency: int = 5
    """``triggerMaxConcurrency``: trigger invocations at once, which bounds StartExecution's rate."""
    queue_max_receive_count: int = 5
    """``queueMaxReceiveCount``: deliveries before an intake message goes to the dead-letter queue."""
    vpc_id: str | None = None
    """``vpcId``: run Batch in this existing VPC (a context lookup: synth needs credentials)."""
    intake_topic_arn: str | None = None
    """``intakeTopicArn``: an existing SNS topic to fan the staging bucket's events out through;
    the bucket notifies it and the intake queue subscribes (its owner must let S3 publish)."""
    alarm_topic_arn: str | None = None
    """``alarmTopicArn``: an SNS topic the alarms notify (none by default)."""
    small_file_workflow: str = "standard"
    """``smallFileWorkflow``: where files at or below the threshold run: ``standard`` (every file on
    the Standard machine, each with its history in the console) or ``express`` (an Express machine
    from the same definition, about a seventh of the cost per small file; large files, retries and
    handovers stay on the Standard one). The README's cost table says when to switch."""
    staging_bucket_name: str | None = None
    """``stagingBucketName``: use this existing bucket as staging (versioning must be on). Its
    events then come through EventBridge, which leaves its own notification configuration alone;
    the stack does not change its lifecycle, CORS or logging."""
    archive_bucket_name: str | None = None
    """``archiveBucketName``: use this existing bucket as the archive (versioning must be on)."""
    kms_key_arn: str | None = None
    """``kmsKeyArn``: the KMS key existing buckets encrypt with (SSE-KMS); decrypt and data-key
    permissions go to exactly the roles that read and write their objects."""
    sweep_every_minutes: int = 0
    """``sweepEveryMinutes``: how often the sweep looks for staging objects no execution took (a
    lost event); 0 (the default) leaves its schedule disabled."""
    sweep_older_than_minutes: int = 60
    """``sweepOlderThanMinutes``: how old an object in staging must be for the sweep to start it
    (longer than a file takes to process: staging is empty once files are processed)."""
    upload_auth: str = "cognito"
    """``uploadAuth``: how the upload API authorizes callers: ``cognito`` (the stack's user pool,
    which the page signs in to), ``iam`` (SigV4, for machine clients) or ``jwt`` (another issuer)."""
    upload_jwt_issuer: str | None = None
    """``uploadJwtIssuer``: the JWT issuer URL (with ``uploadAuth=jwt``)."""
    upload_jwt_audience: tuple[str, ...] = ()
    """``uploadJwtAudience``: accepted JWT audiences, comma-separated (with ``uploadAuth=jwt``)."""
    upload_prefix: str = UploadConfig.prefix
    """``uploadPrefix``: where the upload API puts files in staging."""
    upload_presign_max_bytes: int = UploadConfig.presign_max_bytes
    """``uploadPresignMaxBytes``: files up to this size get a presigned PUT; larger, multipart credentials."""
    upload_max_bytes: int = UploadConfig.max_bytes
    """``uploadMaxBytes``: the largest upload the API grants."""
    upload_part_size: int = UploadConfig.part_size
    """``uploadPartSize``: the smallest part size a multipart grant asks for."""
    upload_content_types: tuple[str, ...] = ()
    """``uploadContentTypes``: accepted content types, comma-separated (``image/*`` works); empty: the defaults."""
    removal_policy_destroy: bool = False
    """``destroyOnRemoval``: delete buckets with the stack (for test deployments only)."""

    # -- reading context ---------------------------------------------------------------------------

    @classmethod
    def context_keys(cls) -> dict[str, str]:
        """Context key -> setting (``originalsPrefix`` -> ``layout.originals``)."""
        keys: dict[str, str] = {}
        for f in fields(cls):
            if f.name == "layout":
                keys |= {f"{area}Prefix": f"layout.{area}" for area in ArchiveLayout.areas()}
                continue
            head, *rest = f.name.split("_")
            keys[_CONTEXT_KEY_OVERRIDES.get(f.name, head + "".join(part.title() for part in rest))] = f.name
        return keys

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> Deployment:
        """Build from a context getter (``app.node.try_get_context``); unknown values fail."""
        defaults = cls()
        values: dict[str, Any] = {}
        areas: dict[str, str] = {}
        for key, setting in cls.context_keys().items():
            raw = lookup(key)
            if raw is None:
                continue
            if setting.startswith("layout."):
                areas[setting.removeprefix("layout.")] = str(raw)
            else:
                values[setting] = _coerce(key, setting, raw, getattr(defaults, setting))
        deployment = cls(**values, layout=ArchiveLayout(**areas))
        deployment.validate()
        return deployment

    def validate(self) -> None:
        if self.large_file_threshold_bytes < 0:
            raise ValueError("largeFileThresholdBytes must be >= 0")
        if not 1 <= self.transform_timeout_seconds <= 900:
            raise ValueError("transformTimeoutSeconds must be between 1 and 900")
        if not 1 <= self.moves_timeout_seconds <= 900:
            raise ValueError("movesTimeoutSeconds must be between 1 and 900")
        if min(self.archive_noncurrent_version_expiration_days, self.failure_history_days) < 1:
            raise ValueError("archiveNoncurrentVersionExpirationDays and failureHistoryDays must be >= 1")
        if self.sweep_every_minutes < 0 or self.sweep_older_than_minutes < 1:
            raise ValueError("sweepEveryMinutes must be >= 0 and sweepOlderThanMinutes >= 1")
        if self.small_file_workflow not in ("express", "standard"):
            raise ValueError("smallFileWorkflow must be 'express' or 'standard'")
        if self.upload_auth not in ("cognito", "iam", "jwt"):
            raise ValueError("uploadAuth must be 'cognito', 'iam' or 'jwt'")
        if self.upload_auth == "jwt" and not (self.upload_jwt_issuer and self.upload_jwt_audience):
            raise ValueError("uploadAuth=jwt needs uploadJwtIssuer and uploadJwtAudience")
        self._validate_archive_prefixes()

    def _validate_archive_prefixes(self) -> None:
        prefixes = list(self.layout.prefixes().values())
        if len(set(prefixes)) != len(prefixes) or any(not p.endswith("/") for p in prefixes):
            raise ValueError("archive prefixes must be distinct and end with '/'")
        # The listing machines build their S3 prefixes with States.Format, where these are syntax.
        if any(c in p for p in prefixes for c in "{}'\\"):
            raise ValueError("archive prefixes may not contain {, }, ' or \\ (States.Format syntax)")

    def area_prefixes(self) -> dict[str, str]:
        """The prefix of each area the grants table names (``filepipe/grants.py``)."""
        return self.layout.prefixes() | {"uploads": self.upload_prefix}

    # -- what runs ------------------------------------------------------------------------------

    def functions(self) -> dict[str, FunctionSpec]:
        """Every Lambda function, by the principal whose role it runs with."""
        moves = self.moves_timeout_seconds
        return {
            f.principal: f
            for f in (
                FunctionSpec(
                    "trigger", "TriggerFunction", "trigger_lambda.handler.handler", 256, TRIGGER_TIMEOUT_SECONDS
                ),
                FunctionSpec(
                    "transform",
                    "TransformFunction",
                    "transform_lambda.handler.handler",
                    self.transform_memory_mb,
                    self.transform_timeout_seconds,
                ),
                FunctionSpec(
                    "archive", "ArchiveFunction", "moves_lambda.handler.archive_handler", MOVES_MEMORY_MB, moves
                ),
                FunctionSpec(
                    "failure", "FailureFunction", "moves_lambda.handler.failure_handler", MOVES_MEMORY_MB, moves
                ),
                FunctionSpec(
                    "upload_api",
                    "UploadApiFunction",
                    "upload_api.handler.handler",
                    MOVES_MEMORY_MB,
                    UPLOAD_API_TIMEOUT_SECONDS,
                ),
                FunctionSpec(
                    "reprocess", "ReprocessFunction", "moves_lambda.handler.reprocess_handler", MOVES_MEMORY_MB, moves
                ),
            )
        }

    def queue_visibility_seconds(self) -> int:
        """The intake queue's visibility timeout: a message a trigger is working on stays hidden."""
        return VISIBILITY_FACTOR * self.functions()["trigger"].timeout_seconds

    def batch_wait_seconds(self) -> int:
        """How long the workflow's Batch task waits: for capacity, then every attempt."""
        return self.batch_runnable_timeout_seconds + BATCH_TIMEOUT_ATTEMPTS * self.batch_job_timeout_seconds

    def definition_values(self, machine: str, names: Names) -> dict[str, Any]:
        """The placeholders of ``machine``'s definition, as CDK and the local cloud fill them."""
        if machine == "express":
            return state_machine.express_values(
                self.definition_values("standard", names), names.machine_arn("standard")
            )
        if machine == "backfill":
            return {
                "Partition": names.partition,
                "StagingBucket": names.buckets["staging"],
                "ArchiveBucket": names.buckets["archive"],
                "ManifestsPrefix": self.layout.manifests,
                "ResultsPrefix": self.layout.results,
                "TriggerFunctionArn": names.functions["trigger"],
            }
        if machine == "reprocess":
            return {
                "Partition": names.partition,
                "ArchiveBucket": names.buckets["archive"],
                "OutputsPrefix": self.layout.outputs,
                "ResultsPrefix": self.layout.results,
                "ReprocessFunctionArn": names.functions["reprocess"],
            }
        return {
            "Partition": names.partition,
            "LargeFileThresholdBytes": str(self.large_file_threshold_bytes),
            "BatchTaskTimeoutSeconds": str(self.batch_wait_seconds()),
            "TransformFunctionArn": names.functions["transform"],
            "ArchiveFunctionArn": names.functions["archive"],
            "FailureFunctionArn": names.functions["failure"],
            "JobQueueArn": names.job_queue,
            "JobDefinitionArn": names.job_definition,
        }

    # -- environments ------------------------------------------------------------------------------

    def handler_environment(self, resources: Resources) -> dict[str, str]:
        """What every function and the Batch worker are given: ``Settings.from_env`` reads it."""
        return {
            "STAGING_BUCKET": resources.names.buckets["staging"],
            "ARCHIVE_BUCKET": resources.names.buckets["archive"],
            "CLAIMS_TABLE": resources.claims_table_name,
            "EXPRESS_LOG_GROUP": resources.express_log_group,
            "POWERTOOLS_LOG_LEVEL": resources.log_level,
            **self.layout.to_env(),
        }

    def function_environment(self, principal: str, resources: Resources) -> dict[str, str]:
        """``principal``'s function's environment: the handlers' own, and what only it reads."""
        names = resources.names
        extra: dict[str, str] = {}
        if principal == "trigger":
            extra = {
                "STATE_MACHINE_ARN": names.machine_arn("standard"),
                "LARGE_FILE_THRESHOLD_BYTES": str(self.large_file_threshold_bytes),
                # Empty with smallFileWorkflow=standard: every file then runs on the Standard machine.
                "EXPRESS_STATE_MACHINE_ARN": (
                    names.machine_arn("express") if self.small_file_workflow == "express" else ""
                ),
            }
        elif principal == "upload_api":
            upload = replace(
                UploadConfig(bucket="", role_arn=names.roles["upload"], kms_key_arn=names.kms_key),
                prefix=self.upload_prefix,
                presign_max_bytes=self.upload_presign_max_bytes,
                max_bytes=self.upload_max_bytes,
                part_size=self.upload_part_size,
                content_types=self.upload_content_types or UploadConfig.content_types,
            )
            extra = upload.to_env() | {
                "STATE_MACHINE_ARN": names.machine_arn("standard"),
                "UPLOAD_AUTH": self.upload_auth,
                **resources.upload_auth_environment,
            }
        return self.handler_environment(resources) | extra


@dataclass(frozen=True)
class Resources:
    """What a deployment's environments name besides the grants' :class:`Names`."""

    names: Names
    claims_table_name: str
    express_log_group: str
    log_level: str = "INFO"
    upload_auth_environment: Mapping[str, str] = field(default_factory=dict)
    """How the upload API checks its callers (Cognito's pool and client IDs)."""


def _coerce(key: str, setting: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("true", "1", "yes"):
                return True
            if str(raw).lower() in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple) or setting in _LIST_SETTINGS:
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except ValueError as exc:
        raise ValueError(f"context {key}={raw!r} is not a valid value") from exc
