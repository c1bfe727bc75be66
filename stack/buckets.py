"""Storage: the staging bucket uploads land in, the archive bucket, and their access logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

REPORT_DAYS = 7
EXPIRED_RECORD_DAYS = 1
"""How long an expired (or replaced) record's version stays before S3 deletes it."""


class Buckets(Construct):
    """Staging (versioned, notifying) and archive (versioned, silent) buckets.

    Both block public access, refuse plain HTTP, encrypt at rest and log access to a third
    bucket, abort stale multipart uploads after a day and expire replaced versions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cors_allowed_origins: list[str],
        noncurrent_version_expiration_days: int,
        archive_prefixes: Mapping[str, str],
        archive_noncurrent_version_expiration_days: int,
        failure_history_days: int,
        destroy_on_removal: bool,
        existing_staging: str | None = None,
        existing_archive: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.adopted_staging = existing_staging is not None
        removal = RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN
        abort_stale_uploads = s3.LifecycleRule(
            id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(1)
        )
        common: dict[str, Any] = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "versioned": True,
            "removal_policy": removal,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        }
        self.access_logs: s3.Bucket | None = None
        if existing_staging is None or existing_archive is None:
            self.access_logs = s3.Bucket(
                self,
                "AccessLogs",
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                removal_policy=removal,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
                lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(365))],
            )
        self.staging: s3.IBucket
        self.archive: s3.IBucket
        if existing_staging is not None:
            self.staging = s3.Bucket.from_bucket_name(self, "Staging", existing_staging)
        else:
            self.staging = s3.Bucket(
                self,
                "Staging",
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix="staging/",
                lifecycle_rules=[
                    abort_stale_uploads,
                    s3.LifecycleRule(
                        id="ExpireReplacedVersions",
                        noncurrent_version_expiration=Duration.days(noncurrent_version_expiration_days),
                        expired_object_delete_marker=True,
                    ),
                ],
                cors=[
                    s3.CorsRule(
                        allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.POST],
                        allowed_origins=cors_allowed_origins,
                        allowed_headers=["*"],
                        exposed_headers=["ETag"],
                        max_age=3600,
                    )
                ],
                **common,
            )
        if existing_archive is not None:
            self.archive = s3.Bucket.from_bucket_name(self, "Archive", existing_archive)
        else:
            self.archive = s3.Bucket(
                self,
                "Archive",
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix="archive/",
                lifecycle_rules=[
                    abort_stale_uploads,
                    *archive_version_rules(
                        archive_prefixes, archive_noncurrent_version_expiration_days, failure_history_days
                    ),
                ],
                **common,
            )


def archive_version_rules(prefixes: Mapping[str, str], days: int, failure_days: int) -> list[s3.LifecycleRule]:
    """Replaced versions in the archive expire: those of originals, outputs and superseded copies
    after ``days``; those of the failure prefix and its records after ``failure_days``, because a
    retry looks for its file among the older versions of ``failed/<key>`` (another version's later
    failure may have covered it). Current objects never expire, but the records nothing reads
    once their file is done (:func:`expiring_records_rules`)."""
    rules = []
    for area, keep in (
        ("originals", days),
        ("outputs", days),
        ("superseded", days),
        ("failed", failure_days),
        ("errors", failure_days),
    ):
        rules.append(
            s3.LifecycleRule(
                id=f"ExpireReplaced{area.title()}",
                prefix=prefixes[area],
                noncurrent_version_expiration=Duration.days(keep),
                expired_object_delete_marker=True,
            )
        )
    return rules + expiring_records_rules(prefixes, failure_days)


def expiring_records_rules(prefixes: Mapping[str, str], failure_days: int) -> list[s3.LifecycleRule]:
    """Records removed for good after their use. In a versioned bucket an expiration only puts a
    delete marker over the object, so each prefix has two rules: one expires the current version
    and deletes the replaced one a day later; the other removes the delete marker left with
    nothing under it (S3 refuses ``ExpiredObjectDeleteMarker`` beside ``Days`` in one rule)."""
    rules = []
    for area, rule_id, keep in (
        # A grant record is read when its upload is processed, or retried from the failure prefix.
        ("grants", "ExpireGrantRecords", failure_days),
        # A job's report is read by the step after the job, within its execution; a backfill's key
        # list by its Map Run, once.
        ("reports", "ExpireJobReports", REPORT_DAYS),
        ("manifests", "ExpireManifests", REPORT_DAYS),
        # A resolved failure's record is kept as long as the failure history it came from.
        ("resolved", "ExpireResolvedRecords", failure_days),
        # A Map Run's results are read by the CLI that follows it.
        ("results", "ExpireMapResults", REPORT_DAYS),
    ):
        rules.append(
            s3.LifecycleRule(
                id=rule_id,
                prefix=prefixes[area],
                expiration=Duration.days(keep),
                noncurrent_version_expiration=Duration.days(EXPIRED_RECORD_DAYS),
            )
        )
        rules.append(s3.LifecycleRule(id=f"{rule_id}Markers", prefix=prefixes[area], expired_object_delete_marker=True))
    return rules
