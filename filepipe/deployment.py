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
from filepipe import deployment_rules as rules
from filepipe.config import CORS_ALLOWED_ORIGINS, ArchiveLayout
from filepipe.execution_logs import EXECUTION_LOGS, ExecutionLogLevel
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
    per_file: bool
    """One execution per file: it logs as ``executionLogs`` says. The listing machines run once per
    backfill or reprocess and log every event, without data."""

    def template(self) -> str:
        """The definition's text, placeholders and all."""
        return self.path.read_text(encoding="utf-8") if self.path else state_machine.express_template()


MACHINES: dict[str, MachineSpec] = {
    m.key: m
    for m in (
        MachineSpec("standard", "state_machine", "STANDARD", DEFINITION_PATH, "", "executions", per_file=True),
        MachineSpec(
            "express", "express_state_machine", "EXPRESS", None, "-express", "express-executions", per_file=True
        ),
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
    """``intakeTopicArn``: an existing standard SNS topic, in the stack's region, to fan the staging
    bucket's events out through; the bucket notifies it and the intake queue subscribes."""
    intake_topic_policy: str = "managed"
    """``intakeTopicPolicy``: who lets S3 publish to the intake topic: ``managed`` (the stack sets
    the topic's policy: S3's publishing and SNS's default owner statement; a topic has one policy,
    so this replaces any other) or ``external`` (its owner adds the statements synth prints; the
    only way for a topic of another account)."""
    alarm_topic_arn: str | None = None
    """``alarmTopicArn``: an SNS topic the alarms notify (none by default)."""
    small_file_workflow: str = "standard"
    """``smallFileWorkflow``: where files at or below the threshold run: ``standard`` (every file on
    the Standard machine, each with its history in the console) or ``express`` (an Express machine
    from the same definition, about a seventh of the cost per small file; large files, retries and
    handovers stay on the Standard one). The README's cost table says when to switch."""
    execution_logs: str = "errors"
    """``executionLogs``: what the per-file machines log: ``errors`` (error events, no data,
    functions at WARNING: the command line reads the rest from claims and error records) or
    ``all`` (every event with data, functions at INFO: for debugging; CloudWatch Logs bills each
    byte) (``filepipe/execution_logs.py``)."""
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
                values[setting] = rules.coerce(key, raw, getattr(defaults, setting))
        deployment = cls(**values, layout=ArchiveLayout(**areas))
        deployment.validate()
        return deployment

    def validate(self) -> None:
        """Refuse what AWS would refuse, before anything is built (``filepipe/deployment_rules``):
        one :class:`~filepipe.deployment_rules.InvalidSetting` naming the key, the value and what
        is allowed."""
        values = self.context_values()
        archive = {area: values.pop(f"{area}Prefix") for area in ArchiveLayout.areas()}
        rules.check(rules.RULES, values)
        rules.check({f"{area}Prefix": rules.prefix for area in archive}, {f"{a}Prefix": p for a, p in archive.items()})
        rules.check_together(values, archive, ArchiveLayout().prefixes())
        if self.batch_wait_seconds() > rules.STATES_TIMEOUT_MAX:
            raise rules.InvalidSetting(
                "batchJobTimeoutSeconds",
                self.batch_job_timeout_seconds,
                f"at most ({rules.STATES_TIMEOUT_MAX} - batchRunnableTimeoutSeconds) / {BATCH_TIMEOUT_ATTEMPTS}: "
                "the workflow's Batch task waits for all attempts, and Step Functions' TimeoutSeconds stops there",
            )

    def validate_target(self, account: str | None, region: str | None) -> None:
        """The checks that need the account and region the stack deploys to (None: not known, as in
        an offline ``cdk synth``; ``cdk deploy`` always knows them)."""
        rules.check_target(self.context_values(), account, region)

    def context_values(self) -> dict[str, Any]:
        """Every setting by its context key (``originalsPrefix`` -> ``originals/``)."""
        return {
            key: getattr(self.layout, setting.removeprefix("layout."))
            if setting.startswith("layout.")
            else getattr(self, setting)
            for key, setting in self.context_keys().items()
        }

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

    def machine_logging(self, key: str) -> ExecutionLogLevel:
        """What machine ``key`` logs: per-file ones as ``executionLogs`` says, listing ones all, no data."""
        if MACHINES[key].per_file:
            return EXECUTION_LOGS[self.execution_logs]
        return ExecutionLogLevel("ALL", include_execution_data=False, function_log_level="")

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
            "POWERTOOLS_LOG_LEVEL": resources.log_level or EXECUTION_LOGS[self.execution_logs].function_log_level,
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
    log_level: str | None = None
    """The functions' log level; None: as ``executionLogs`` says."""
    upload_auth_environment: Mapping[str, str] = field(default_factory=dict)
    """How the upload API checks its callers (Cognito's pool and client IDs)."""


def validate_stack_name(name: str) -> None:
    """``stackName`` (read by ``app.py``, beside the settings): CloudFormation's rules, and room
    for the listing machines' names, which are the stack's and a suffix."""
    longest = max((MACHINES[key].suffix for key in LISTING_MACHINES), key=len)
    if (problem := rules.stack_name_problem(name, longest)) is not None:
        raise rules.InvalidSetting("stackName", name, problem)
