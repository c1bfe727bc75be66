"""Every deploy-time setting, its default, and how it is read from CDK context.

``app.py`` is the only caller of :meth:`PipelineConfig.from_context`; constructs receive the
parsed values through their props.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from filepipe.config import CORS_ALLOWED_ORIGINS

MiB = 1024 * 1024


@dataclass(frozen=True)
class PipelineConfig:
    """Settings, each with the CDK context key that sets it (``cdk deploy -c key=value``)."""

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
    originals_prefix: str = "originals/"
    outputs_prefix: str = "outputs/"
    failed_prefix: str = "failed/"
    errors_prefix: str = "errors/"
    superseded_prefix: str = "superseded/"
    grants_prefix: str = "grants/"
    reports_prefix: str = "reports/"
    resolved_prefix: str = "resolved/"
    manifests_prefix: str = "manifests/"
    """``originalsPrefix`` ... ``supersededPrefix``, ``grantsPrefix``, ``reportsPrefix``,
    ``resolvedPrefix``, ``manifestsPrefix``: the archive bucket's layout."""
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
    upload_prefix: str = "uploads/"
    """``uploadPrefix``: where the upload API puts files in staging."""
    upload_presign_max_bytes: int = 100 * MiB
    """``uploadPresignMaxBytes``: files up to this size get a presigned PUT; larger, multipart credentials."""
    upload_max_bytes: int = 5 * 1024 * 1024 * MiB
    """``uploadMaxBytes``: the largest upload the API grants."""
    upload_content_types: tuple[str, ...] = ()
    """``uploadContentTypes``: accepted content types, comma-separated (``image/*`` works); empty: the defaults."""
    removal_policy_destroy: bool = False
    """``destroyOnRemoval``: delete buckets with the stack (for test deployments only)."""

    @classmethod
    def context_key(cls, name: str) -> str:
        head, *rest = name.split("_")
        key = head + "".join(part.title() for part in rest)
        return {"removalPolicyDestroy": "destroyOnRemoval"}.get(key, key)

    @classmethod
    def from_context(cls, lookup: Callable[[str], Any]) -> PipelineConfig:
        """Build from a context getter (``app.node.try_get_context``); unknown values fail."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = lookup(cls.context_key(f.name))
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, getattr(cls(), f.name))
        config = cls(**values)
        config.validate()
        return config

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
        prefixes = [prefix for area, prefix in self.area_prefixes().items() if area != "uploads"]  # staging's
        if len(set(prefixes)) != len(prefixes) or any(not p.endswith("/") for p in prefixes):
            raise ValueError("archive prefixes must be distinct and end with '/'")
        # The listing machines build their S3 prefixes with States.Format, where these are syntax.
        if any(c in p for p in prefixes for c in "{}'\\"):
            raise ValueError("archive prefixes may not contain {, }, ' or \\ (States.Format syntax)")

    def area_prefixes(self) -> dict[str, str]:
        """The prefix of each area the grants table names (``filepipe/grants.py``)."""
        return {
            "originals": self.originals_prefix,
            "outputs": self.outputs_prefix,
            "failed": self.failed_prefix,
            "errors": self.errors_prefix,
            "superseded": self.superseded_prefix,
            "grants": self.grants_prefix,
            "reports": self.reports_prefix,
            "resolved": self.resolved_prefix,
            "manifests": self.manifests_prefix,
            "uploads": self.upload_prefix,
        }

    def handler_environment(self) -> dict[str, str]:
        """What the handlers read through ``filepipe.config.Settings`` (besides bucket names)."""
        return {
            "ORIGINALS_PREFIX": self.originals_prefix,
            "OUTPUTS_PREFIX": self.outputs_prefix,
            "FAILED_PREFIX": self.failed_prefix,
            "ERRORS_PREFIX": self.errors_prefix,
            "SUPERSEDED_PREFIX": self.superseded_prefix,
            "GRANTS_PREFIX": self.grants_prefix,
            "REPORTS_PREFIX": self.reports_prefix,
            "RESOLVED_PREFIX": self.resolved_prefix,
            "MANIFESTS_PREFIX": self.manifests_prefix,
        }


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("true", "1", "yes"):
                return True
            if str(raw).lower() in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if isinstance(default, int) and not isinstance(default, bool):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple) or name in ("upload_jwt_audience", "upload_content_types"):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except ValueError as exc:
        raise ValueError(f"context {PipelineConfig.context_key(name)}={raw!r} is not a valid value") from exc
