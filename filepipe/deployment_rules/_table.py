"""The table: one rule per context key; the rules that join settings; those that need the target."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from filepipe.deployment_rules._names import Arn, bucket_name, intake_topic_statements, kms_key_arn, topic_arn, vpc_id
from filepipe.deployment_rules._values import (
    LOG_RETENTION_DAYS,
    InvalidSetting,
    Rule,
    audience,
    between,
    boolean,
    content_type,
    each,
    fargate_memory_problem,
    fargate_vcpus,
    https_url,
    one_of,
    origin,
    plain,
    prefix,
)
from filepipe.partitions import offers, partition_of
from filepipe.storage import MAX_OBJECT_SIZE, GiB, MiB

LARGEST_OBJECT = "S3's largest object is 48.8 TiB (10,000 parts of 5 GiB)"

RULES: dict[str, Rule] = {
    "largeFileThresholdBytes": between(0, MAX_OBJECT_SIZE, LARGEST_OBJECT),
    "transformMemoryMb": between(128, 10240, "Lambda's memory sizes, in MB"),
    "transformTimeoutSeconds": between(1, 900, "Lambda's timeout"),
    "movesTimeoutSeconds": between(1, 900, "Lambda's timeout"),
    "batchVcpus": fargate_vcpus,
    "batchMemoryMb": between(512, 122880, "Fargate's memory sizes, in MiB"),
    "batchMaxVcpus": between(1),
    "batchJobTimeoutSeconds": between(60, what="Batch's shortest attempt duration"),
    "batchRunnableTimeoutSeconds": between(0),
    "batchSpot": boolean,
    "logRetentionDays": one_of(*LOG_RETENTION_DAYS, what="CloudWatch Logs' retentions, in days"),
    "noncurrentVersionExpirationDays": between(1, what="S3 lifecycle days"),
    "archiveNoncurrentVersionExpirationDays": between(1, what="S3 lifecycle days"),
    "failureHistoryDays": between(1, what="S3 lifecycle days"),
    "corsAllowedOrigins": each(origin, at_least_one=True),
    "triggerBatchSize": between(1, 10000, "an SQS event source's batch size with a batching window"),
    "triggerMaxConcurrency": between(2, 1000, "an SQS event source's maximum concurrency"),
    "queueMaxReceiveCount": between(1, 1000, "SQS's maxReceiveCount"),
    "vpcId": vpc_id,
    "intakeTopicArn": topic_arn,
    "intakeTopicPolicy": one_of("managed", "external"),
    "alarmTopicArn": topic_arn,
    "smallFileWorkflow": one_of("standard", "express"),
    "executionLogs": one_of("errors", "all"),
    "stagingBucketName": bucket_name,
    "archiveBucketName": bucket_name,
    "kmsKeyArn": kms_key_arn,
    "sweepEveryMinutes": between(0, what="0 turns the sweep off"),
    "sweepOlderThanMinutes": between(1),
    "uploadAuth": one_of("cognito", "iam", "jwt"),
    "uploadJwtIssuer": https_url,
    "uploadJwtAudience": each(audience),
    "uploadPrefix": prefix,
    "uploadPresignMaxBytes": between(0, 5 * GiB, "S3's largest single PUT is 5 GiB"),
    "uploadMaxBytes": between(1, MAX_OBJECT_SIZE, LARGEST_OBJECT),
    "uploadPartSize": between(5 * MiB, 5 * GiB, "S3's part sizes"),
    "uploadContentTypes": each(content_type),
    "destroyOnRemoval": boolean,
}
"""One rule per context key but the archive prefixes, which share :func:`prefix`."""

ARN_KEYS = ("intakeTopicArn", "alarmTopicArn", "kmsKeyArn")
"""The settings that are ARNs: one partition for all, and the stack's."""
IN_STACK_REGION = {
    "intakeTopicArn": "S3 notifies only a topic in its bucket's region",
    "kmsKeyArn": "S3 uses only a key in its bucket's region",
}
"""ARNs that must be in the stack's region, and why."""


def check_together(values: Mapping[str, Any], archive_prefixes: Mapping[str, str], defaults: Mapping[str, str]) -> None:
    """The rules that join settings (``values`` by context key, after :func:`check`);
    ``archive_prefixes`` and their ``defaults`` by area."""
    vcpus = values["batchVcpus"]
    if (problem := fargate_memory_problem(vcpus, values["batchMemoryMb"])) is not None:
        raise InvalidSetting("batchMemoryMb", values["batchMemoryMb"], problem)
    if values["batchMaxVcpus"] < vcpus:
        raise InvalidSetting(
            "batchMaxVcpus", values["batchMaxVcpus"], f"at least batchVcpus ({plain(vcpus)}): a larger job never runs"
        )
    _check_buckets(values)
    _check_upload_auth(values)
    _check_archive_prefixes(archive_prefixes, defaults)
    arns = {key: arn for key in ARN_KEYS if values.get(key) and (arn := Arn.parse(values[key])) is not None}
    for (first, a), (key, b) in zip(arns.items(), list(arns.items())[1:], strict=False):
        if a.partition != b.partition:
            raise InvalidSetting(key, values[key], f"an ARN of the {a.partition} partition, as {first} is")
    regional = {key: arn.region for key, arn in arns.items() if key in IN_STACK_REGION}
    if len(set(regional.values())) > 1:
        raise InvalidSetting("kmsKeyArn", values["kmsKeyArn"], "a key in intakeTopicArn's region: both are the stack's")


def _check_buckets(values: Mapping[str, Any]) -> None:
    staging, archive = values.get("stagingBucketName"), values.get("archiveBucketName")
    if staging is not None and staging == archive:
        raise InvalidSetting(
            "archiveBucketName",
            archive,
            "a bucket other than stagingBucketName: every copy archived there would be processed again, without end",
        )
    if values.get("kmsKeyArn") and staging is None and archive is None:
        raise InvalidSetting(
            "kmsKeyArn",
            values["kmsKeyArn"],
            "a key only with stagingBucketName or archiveBucketName: the stack's own buckets use S3-managed keys",
        )
    if values.get("intakeTopicArn") and staging is not None:
        raise InvalidSetting(
            "intakeTopicArn",
            values["intakeTopicArn"],
            "a topic only for the stack's own staging bucket: an existing one's events come through EventBridge",
        )


def _check_upload_auth(values: Mapping[str, Any]) -> None:
    jwt = values["uploadAuth"] == "jwt"
    for key in ("uploadJwtIssuer", "uploadJwtAudience"):
        given = bool(values.get(key))
        if jwt and not given:
            raise InvalidSetting(
                key, values.get(key), "a value with uploadAuth=jwt (uploadJwtIssuer and uploadJwtAudience)"
            )
        if given and not jwt:
            raise InvalidSetting(
                key, values[key], f"nothing with uploadAuth={values['uploadAuth']}: it is read with jwt"
            )


def _check_archive_prefixes(prefixes: Mapping[str, str], defaults: Mapping[str, str]) -> None:
    """Two areas that overlap: the error names the one that was changed from its default."""
    for area, value in sorted(prefixes.items(), key=lambda item: item[1] == defaults[item[0]]):
        for other, taken in prefixes.items():
            if other != area and value.startswith(taken):
                raise InvalidSetting(
                    f"{area}Prefix",
                    value,
                    f"a prefix distinct from {other}Prefix ({taken!r}) and outside it: each area has its own "
                    "lifecycle rules and grants",
                )


def check_target(values: Mapping[str, Any], account: str | None, region: str | None) -> None:
    """The rules that need the account and region the stack deploys to (either may be unknown)."""
    arns = {key: (values[key], arn) for key in ARN_KEYS if values.get(key) and (arn := Arn.parse(values[key]))}
    if region is not None:
        partition = partition_of(region)
        if values["uploadAuth"] == "cognito" and not offers("cognito-idp", partition.name):
            raise InvalidSetting(
                "uploadAuth",
                "cognito",
                f"iam or jwt in {region}: Cognito user pools are not offered in the {partition.name} partition",
            )
        for key, (value, arn) in arns.items():
            if arn.partition != partition.name:
                raise InvalidSetting(key, value, f"an ARN of the {partition.name} partition, where {region} is")
            if key in IN_STACK_REGION and arn.region != region:
                raise InvalidSetting(key, value, f"an ARN in {region}, the stack's region: {IN_STACK_REGION[key]}")
    topic = arns.get("intakeTopicArn")
    if account is not None and topic is not None and values["intakeTopicPolicy"] == "managed":
        value, arn = topic
        if arn.account != account:
            statements = intake_topic_statements(value, account, arn.partition)
            raise InvalidSetting(
                "intakeTopicArn",
                value,
                f"a topic in account {account}, whose policy the stack can manage. For a topic in another account, "
                "its owner adds these statements to its policy, and the stack is deployed with "
                f"-c intakeTopicPolicy=external: {json.dumps(statements)}",
            )
