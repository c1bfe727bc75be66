"""Deploy-time settings (filepipe/deployment.py): parsed from CDK context, validated before anything is built."""

from __future__ import annotations

import json
from typing import Any

import pytest

from filepipe.config import ArchiveLayout
from filepipe.deployment import Deployment, validate_stack_name
from filepipe.deployment_rules import FARGATE_MEMORY_MIB, RULES, InvalidSetting, intake_topic_statements
from filepipe.execution_logs import EXECUTION_LOGS


def parse(**context: Any) -> Deployment:
    return Deployment.from_context(context.get)


def test_defaults() -> None:
    config = parse()
    assert config.large_file_threshold_bytes == 128 * 1024 * 1024
    assert config.upload_auth == "cognito", "the page signs in to the stack's own user pool"


def test_context_strings_are_coerced() -> None:
    config = parse(
        largeFileThresholdBytes="1024",
        batchSpot="true",
        batchVcpus="0.5",
        corsAllowedOrigins="https://a.example, https://b.example",
        uploadAuth="jwt",
        uploadJwtIssuer="https://issuer.example",
        uploadJwtAudience="filepipe",
        destroyOnRemoval=True,
    )
    assert config.large_file_threshold_bytes == 1024
    assert config.batch_spot is True and config.batch_vcpus == 0.5
    assert config.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert config.upload_jwt_audience == ("filepipe",)
    assert config.removal_policy_destroy is True


TOPIC = "arn:aws:sns:eu-west-2:111122223333:uploads-fanout"
KEY = "arn:aws:kms:eu-west-2:111122223333:key/0b0c6bd0-4a25-4d25-9f5e-9b3a4e0d5f11"
JWT = {"uploadAuth": "jwt", "uploadJwtIssuer": "https://issuer.example", "uploadJwtAudience": "filepipe"}

VALID: dict[str, list[dict[str, Any]]] = {
    "largeFileThresholdBytes": [{"largeFileThresholdBytes": v} for v in ("0", "1048576", str(10_000 * 5 * 2**30))],
    "transformMemoryMb": [{"transformMemoryMb": v} for v in ("128", "3008", "10240")],
    "transformTimeoutSeconds": [{"transformTimeoutSeconds": v} for v in ("1", "900")],
    "movesTimeoutSeconds": [{"movesTimeoutSeconds": v} for v in ("60", "900")],
    "batchVcpus": [{"batchVcpus": "0.25", "batchMemoryMb": "512"}, {"batchVcpus": "16", "batchMemoryMb": "122880"}],
    "batchMemoryMb": [{"batchVcpus": "4", "batchMemoryMb": "8192"}, {"batchVcpus": "8", "batchMemoryMb": "20480"}],
    "batchMaxVcpus": [{"batchMaxVcpus": "2"}, {"batchMaxVcpus": "256"}],
    "batchJobTimeoutSeconds": [{"batchJobTimeoutSeconds": v} for v in ("60", "86400")],
    "batchRunnableTimeoutSeconds": [{"batchRunnableTimeoutSeconds": v} for v in ("0", "600")],
    "batchSpot": [{"batchSpot": v} for v in ("true", "false", True)],
    "logRetentionDays": [{"logRetentionDays": v} for v in ("1", "14", "400", "1096", "3653")],
    "noncurrentVersionExpirationDays": [{"noncurrentVersionExpirationDays": "1"}],
    "archiveNoncurrentVersionExpirationDays": [{"archiveNoncurrentVersionExpirationDays": "365"}],
    "failureHistoryDays": [{"failureHistoryDays": "30"}],
    "corsAllowedOrigins": [
        {"corsAllowedOrigins": "https://uploads.example.com,http://localhost:3000"},
        {"corsAllowedOrigins": "https://*.example.com"},
    ],
    "triggerBatchSize": [{"triggerBatchSize": v} for v in ("1", "10000")],
    "triggerMaxConcurrency": [{"triggerMaxConcurrency": v} for v in ("2", "1000")],
    "queueMaxReceiveCount": [{"queueMaxReceiveCount": v} for v in ("1", "1000")],
    "vpcId": [{"vpcId": "vpc-0123456789abcdef0"}, {"vpcId": "vpc-01234567"}],
    "intakeTopicArn": [{"intakeTopicArn": TOPIC}, {"intakeTopicArn": "arn:aws-cn:sns:cn-north-1:111122223333:t"}],
    "intakeTopicPolicy": [{"intakeTopicArn": TOPIC, "intakeTopicPolicy": v} for v in ("managed", "external")],
    "alarmTopicArn": [{"alarmTopicArn": "arn:aws-us-gov:sns:us-gov-west-1:111122223333:alarms"}],
    "smallFileWorkflow": [{"smallFileWorkflow": v} for v in ("standard", "express")],
    "executionLogs": [{"executionLogs": v} for v in ("errors", "all")],
    "stagingBucketName": [{"stagingBucketName": v} for v in ("team-uploads", "a.b-c", "abc")],
    "archiveBucketName": [{"archiveBucketName": "team-archive"}],
    "kmsKeyArn": [
        {"stagingBucketName": "team-uploads", "kmsKeyArn": KEY},
        {"archiveBucketName": "team-archive", "kmsKeyArn": "arn:aws:kms:eu-west-2:111122223333:key/mrk-" + "0" * 32},
    ],
    "sweepEveryMinutes": [{"sweepEveryMinutes": v} for v in ("0", "1", "1440")],
    "sweepOlderThanMinutes": [{"sweepOlderThanMinutes": "1"}],
    "uploadAuth": [{"uploadAuth": "cognito"}, {"uploadAuth": "iam"}, JWT],
    "uploadJwtIssuer": [JWT | {"uploadJwtIssuer": "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_abc"}],
    "uploadJwtAudience": [JWT | {"uploadJwtAudience": "a,b"}],
    "uploadPrefix": [{"uploadPrefix": v} for v in ("incoming/", "teams/x/", "ünïcode/")],
    "uploadPresignMaxBytes": [{"uploadPresignMaxBytes": v} for v in ("0", str(5 * 2**30))],
    "uploadMaxBytes": [{"uploadMaxBytes": v} for v in ("1", str(10_000 * 5 * 2**30))],
    "uploadPartSize": [{"uploadPartSize": v} for v in (str(5 * 2**20), str(5 * 2**30))],
    "uploadContentTypes": [{"uploadContentTypes": "text/csv,image/*,application/vnd.apache.parquet"}],
    "destroyOnRemoval": [{"destroyOnRemoval": v} for v in ("true", "false")],
    **{
        f"{area}Prefix": [{f"{area}Prefix": f"{area}-2/"}, {f"{area}Prefix": f"team/{area}/"}]
        for area in ArchiveLayout.areas()
    },
}
"""Every documented option (each context key ``Deployment`` reads), with values AWS accepts."""

INVALID: list[tuple[dict[str, Any], str, str]] = [
    # (context, the key the error names, what it says is allowed)
    ({"largeFileThresholdBytes": "lots"}, "largeFileThresholdBytes", "an integer"),
    ({"largeFileThresholdBytes": "-1"}, "largeFileThresholdBytes", "48.8 TiB"),
    ({"transformMemoryMb": "64"}, "transformMemoryMb", "from 128 to 10240"),
    ({"transformMemoryMb": "10241"}, "transformMemoryMb", "from 128 to 10240"),
    ({"transformTimeoutSeconds": "901"}, "transformTimeoutSeconds", "from 1 to 900"),
    ({"movesTimeoutSeconds": "0"}, "movesTimeoutSeconds", "from 1 to 900"),
    ({"batchVcpus": "3"}, "batchVcpus", "0.25, 0.5, 1, 2, 4, 8, 16"),
    ({"batchVcpus": "4"}, "batchMemoryMb", "4 vCPU 8192 to 30720 MiB in steps of 1024 (nearest: 8192)"),
    ({"batchVcpus": "1", "batchMemoryMb": "4000"}, "batchMemoryMb", "2048 to 8192 MiB in steps of 1024"),
    ({"batchVcpus": "0.25", "batchMemoryMb": "1536"}, "batchMemoryMb", "512, 1024, 2048 MiB"),
    ({"batchVcpus": "8", "batchMemoryMb": "17408"}, "batchMemoryMb", "steps of 4096 (nearest: 16384)"),
    ({"batchMemoryMb": "131072"}, "batchMemoryMb", "512 to 122880"),
    ({"batchVcpus": "16", "batchMemoryMb": "32768", "batchMaxVcpus": "8"}, "batchMaxVcpus", "at least batchVcpus"),
    ({"batchJobTimeoutSeconds": "59"}, "batchJobTimeoutSeconds", "from 60"),
    ({"batchJobTimeoutSeconds": "40000000"}, "batchJobTimeoutSeconds", "TimeoutSeconds"),
    ({"batchRunnableTimeoutSeconds": "-1"}, "batchRunnableTimeoutSeconds", "from 0"),
    ({"batchSpot": "maybe"}, "batchSpot", "true or false"),
    ({"batchVcpus": "two"}, "batchVcpus", "a number"),
    ({"logRetentionDays": "10"}, "logRetentionDays", "1, 3, 5, 7, 14, 30"),
    ({"logRetentionDays": "0"}, "logRetentionDays", "CloudWatch Logs' retentions"),
    ({"noncurrentVersionExpirationDays": "0"}, "noncurrentVersionExpirationDays", "S3 lifecycle days"),
    ({"archiveNoncurrentVersionExpirationDays": "0"}, "archiveNoncurrentVersionExpirationDays", "from 1"),
    ({"failureHistoryDays": "0"}, "failureHistoryDays", "from 1"),
    ({"corsAllowedOrigins": "https://uploads.example.com/"}, "corsAllowedOrigins", "no path or trailing slash"),
    ({"corsAllowedOrigins": "uploads.example.com"}, "corsAllowedOrigins", "scheme://host"),
    ({"corsAllowedOrigins": ","}, "corsAllowedOrigins", "at least one value"),
    ({"triggerBatchSize": "0"}, "triggerBatchSize", "from 1 to 10000"),
    ({"triggerMaxConcurrency": "1"}, "triggerMaxConcurrency", "from 2 to 1000"),
    ({"queueMaxReceiveCount": "1001"}, "queueMaxReceiveCount", "from 1 to 1000"),
    ({"vpcId": "vpc-xyz"}, "vpcId", "vpc- and 8 or 17"),
    ({"intakeTopicArn": "uploads-fanout"}, "intakeTopicArn", "arn:<partition>:sns"),
    ({"intakeTopicArn": TOPIC + ".fifo"}, "intakeTopicArn", "FIFO"),
    ({"intakeTopicArn": TOPIC.replace(":aws:", ":aws-mars:")}, "intakeTopicArn", "aws, aws-cn"),
    ({"intakeTopicArn": TOPIC.replace("eu-west-2", "cn-north-1")}, "intakeTopicArn", "the aws partition's"),
    ({"intakeTopicArn": TOPIC.replace(":sns:", ":sqs:")}, "intakeTopicArn", "arn:<partition>:sns"),
    ({"intakeTopicArn": TOPIC, "intakeTopicPolicy": "none"}, "intakeTopicPolicy", "managed, external"),
    ({"alarmTopicArn": "arn:aws:sns:eu-west-2:1111:alarms"}, "alarmTopicArn", "arn:<partition>:sns"),
    ({"smallFileWorkflow": "fast"}, "smallFileWorkflow", "standard, express"),
    ({"executionLogs": "everything"}, "executionLogs", "errors, all"),
    ({"stagingBucketName": "Team_Uploads"}, "stagingBucketName", "S3 bucket name"),
    ({"stagingBucketName": "ab"}, "stagingBucketName", "3 to 63"),
    ({"stagingBucketName": "a..b"}, "stagingBucketName", "no '..'"),
    ({"stagingBucketName": "192.168.5.4"}, "stagingBucketName", "not an IP address"),
    ({"stagingBucketName": "xn--uploads"}, "stagingBucketName", "reserved prefix"),
    ({"archiveBucketName": "archive-s3alias"}, "archiveBucketName", "suffix"),
    ({"archiveBucketName": "-archive"}, "archiveBucketName", "starting and ending"),
    ({"stagingBucketName": "same", "archiveBucketName": "same"}, "archiveBucketName", "processed again"),
    ({"kmsKeyArn": KEY}, "kmsKeyArn", "only with stagingBucketName or archiveBucketName"),
    ({"stagingBucketName": "s-b", "kmsKeyArn": KEY.replace("key/", "alias/")}, "kmsKeyArn", "alias ARN"),
    ({"stagingBucketName": "s-b", "kmsKeyArn": "arn:aws:kms:eu-west-2:111122223333:key/x"}, "kmsKeyArn", "key id"),
    ({"stagingBucketName": "s-b", "intakeTopicArn": TOPIC}, "intakeTopicArn", "EventBridge"),
    (
        {
            "alarmTopicArn": TOPIC,
            "intakeTopicArn": TOPIC.replace(":aws:", ":aws-cn:").replace("eu-west-2", "cn-north-1"),
        },
        "alarmTopicArn",
        "aws-cn partition, as intakeTopicArn",
    ),
    (
        {"archiveBucketName": "a-b", "intakeTopicArn": TOPIC, "kmsKeyArn": KEY.replace("eu-west-2", "eu-west-1")},
        "kmsKeyArn",
        "intakeTopicArn's region",
    ),
    ({"sweepEveryMinutes": "-5"}, "sweepEveryMinutes", "0 turns the sweep off"),
    ({"sweepOlderThanMinutes": "0"}, "sweepOlderThanMinutes", "from 1"),
    ({"uploadAuth": "basic"}, "uploadAuth", "cognito, iam, jwt"),
    ({"uploadAuth": "jwt"}, "uploadJwtIssuer", "uploadAuth=jwt"),
    ({"uploadAuth": "jwt", "uploadJwtIssuer": "https://i.example"}, "uploadJwtAudience", "uploadAuth=jwt"),
    (JWT | {"uploadJwtIssuer": "http://issuer.example"}, "uploadJwtIssuer", "https://"),
    (JWT | {"uploadJwtIssuer": "https://issuer.example/?x=1"}, "uploadJwtIssuer", "without query"),
    ({"uploadJwtIssuer": "https://issuer.example"}, "uploadJwtIssuer", "with uploadAuth=cognito"),
    ({"uploadAuth": "iam", "uploadJwtAudience": "x"}, "uploadJwtAudience", "with uploadAuth=iam"),
    ({"uploadPrefix": "uploads"}, "uploadPrefix", "ending in '/'"),
    ({"uploadPrefix": "/uploads/"}, "uploadPrefix", "not starting with one"),
    ({"uploadPrefix": "up*/"}, "uploadPrefix", "IAM wildcards"),
    ({"uploadPrefix": "a//b/"}, "uploadPrefix", "without '//'"),
    ({"uploadPrefix": "x" * 300 + "/"}, "uploadPrefix", "256 bytes"),
    ({"uploadPresignMaxBytes": str(5 * 2**30 + 1)}, "uploadPresignMaxBytes", "single PUT is 5 GiB"),
    ({"uploadMaxBytes": str(10_000 * 5 * 2**30 + 1)}, "uploadMaxBytes", "48.8 TiB"),
    ({"uploadPartSize": str(4 * 2**20)}, "uploadPartSize", "S3's part sizes"),
    ({"uploadContentTypes": "text/csv,Text/Plain"}, "uploadContentTypes", "lower case"),
    ({"uploadContentTypes": "csv"}, "uploadContentTypes", "such as text/csv"),
    ({"uploadContentTypes": "text/csv; charset=utf-8"}, "uploadContentTypes", "without parameters"),
    ({"destroyOnRemoval": "sometimes"}, "destroyOnRemoval", "true or false"),
    ({"failedPrefix": "originals/"}, "failedPrefix", "distinct"),
    ({"failedPrefix": "originals/failed/"}, "failedPrefix", "outside it"),
    ({"outputsPrefix": "out{1}/"}, "outputsPrefix", "States.Format"),
    ({"manifestsPrefix": "it's/"}, "manifestsPrefix", "States.Format"),
    *(({f"{area}Prefix": area}, f"{area}Prefix", "ending in '/'") for area in ArchiveLayout.areas()),
]
"""Values AWS (or the pipeline) would refuse, each caught at synth with the key that names it."""


def test_every_documented_option_has_valid_values_that_parse() -> None:
    assert set(VALID) == set(Deployment.context_keys())
    for key, contexts in VALID.items():
        for context in contexts:
            config = parse(**context)
            setting = Deployment.context_keys()[key]
            assert setting.startswith("layout.") or getattr(config, setting) is not None, (key, context)


def test_every_setting_has_a_rule() -> None:
    areas = {f"{area}Prefix" for area in ArchiveLayout.areas()}
    assert set(RULES) == set(Deployment.context_keys()) - areas


@pytest.mark.parametrize(
    ("context", "key", "allowed"), INVALID, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(INVALID)]
)
def test_each_invalid_value_fails_naming_its_key_its_value_and_what_is_allowed(
    context: dict[str, Any], key: str, allowed: str
) -> None:
    with pytest.raises(ValueError) as raised:
        parse(**context)
    message = str(raised.value)
    assert f"context {key}=" in message, message
    assert allowed in message, message


def test_every_option_has_an_invalid_value_in_the_table() -> None:
    assert {key for _, key, _ in INVALID} == set(Deployment.context_keys())


@pytest.mark.parametrize("vcpus", sorted(FARGATE_MEMORY_MIB))
def test_every_fargate_size_is_accepted_and_nothing_between(vcpus: float) -> None:
    sizes = FARGATE_MEMORY_MIB[vcpus]
    for memory in sizes:
        parse(batchVcpus=str(vcpus), batchMemoryMb=str(memory), batchMaxVcpus="16")
    for memory in {sizes[0] - 1, sizes[-1] + 1024, sizes[0] + 1, 1536 if vcpus == 0.25 else sizes[1] - 1}:
        with pytest.raises(InvalidSetting, match="Fargate"):
            parse(batchVcpus=str(vcpus), batchMemoryMb=str(memory), batchMaxVcpus="16")


@pytest.mark.parametrize(
    ("context", "account", "region", "key", "allowed"),
    [
        ({"intakeTopicArn": TOPIC, "uploadAuth": "iam"}, None, "cn-north-1", "intakeTopicArn", "aws-cn partition"),
        ({"intakeTopicArn": TOPIC}, None, "eu-west-1", "intakeTopicArn", "S3 notifies only a topic in its"),
        ({"alarmTopicArn": TOPIC}, None, "us-gov-west-1", "alarmTopicArn", "aws-us-gov partition"),
        ({"stagingBucketName": "s-b", "kmsKeyArn": KEY}, None, "us-east-1", "kmsKeyArn", "in us-east-1"),
        ({"intakeTopicArn": TOPIC}, "444455556666", None, "intakeTopicArn", "-c intakeTopicPolicy=external"),
    ],
)
def test_the_target_account_and_region_are_checked_when_known(
    context: dict[str, Any], account: str | None, region: str | None, key: str, allowed: str
) -> None:
    config = parse(**context)
    with pytest.raises(InvalidSetting) as raised:
        config.validate_target(account, region)
    assert raised.value.key == key and allowed in str(raised.value)


def test_a_topic_of_another_account_is_refused_with_the_statements_its_owner_adds() -> None:
    with pytest.raises(InvalidSetting) as raised:
        parse(intakeTopicArn=TOPIC).validate_target("444455556666", "eu-west-2")
    statements = json.loads(str(raised.value).split("external: ", 1)[1])
    assert statements == intake_topic_statements(TOPIC, "444455556666", "aws")
    publish, subscribe = statements
    assert publish["Principal"] == {"Service": "s3.amazonaws.com"} and publish["Action"] == "SNS:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": "444455556666"}
    assert subscribe["Principal"] == {"AWS": "arn:aws:iam::444455556666:root"}
    parse(intakeTopicArn=TOPIC, intakeTopicPolicy="external").validate_target("444455556666", "eu-west-2")


def test_what_the_target_allows_passes() -> None:
    parse(intakeTopicArn=TOPIC, alarmTopicArn=TOPIC).validate_target("111122223333", "eu-west-2")
    parse().validate_target(None, None)
    parse(uploadAuth="iam").validate_target("111122223333", "cn-north-1")


def test_the_stacks_user_pool_is_refused_where_cognito_is_not_offered() -> None:
    with pytest.raises(InvalidSetting, match="not offered in the aws-cn partition") as raised:
        parse().validate_target(None, "cn-north-1")
    assert raised.value.key == "uploadAuth"
    parse().validate_target(None, "us-gov-west-1")


@pytest.mark.parametrize(
    ("name", "ok"),
    [("Filepipe", True), ("team-pipe-2", True), ("2pipe", False), ("a_b", False), ("x" * 71, False), ("x" * 70, True)],
)
def test_stack_names_fit_cloudformation_and_the_machines_named_after_them(name: str, ok: bool) -> None:
    if ok:
        validate_stack_name(name)
    else:
        with pytest.raises(InvalidSetting, match="context stackName="):
            validate_stack_name(name)


def test_the_image_sources_digest_follows_every_source_file(tmp_path: Any) -> None:
    from batch_image.sources import SOURCES, sources_digest

    for name in SOURCES:
        path = tmp_path / name
        if name == "Dockerfile":
            path.write_text("FROM x\n")
        else:
            path.mkdir()
            (path / "a.py").write_text("a = 1\n")
    before = sources_digest(tmp_path)
    (tmp_path / "filepipe" / "__pycache__").mkdir()
    (tmp_path / "filepipe" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")
    assert sources_digest(tmp_path) == before, "caches are not sources"
    (tmp_path / "filepipe" / "a.py").write_text("a = 2\n")
    assert sources_digest(tmp_path) != before


def test_per_file_machines_log_as_execution_logs_says_and_functions_follow() -> None:
    """``errors`` (the default): error events without data, functions at WARNING; ``all``: every
    event with data, functions at INFO. The listing machines log every event without data."""
    quiet, loud = Deployment(), parse(executionLogs="all")
    assert (quiet.machine_logging("express").level, quiet.machine_logging("express").include_execution_data) == (
        "ERROR",
        False,
    )
    assert (loud.machine_logging("standard").level, loud.machine_logging("standard").include_execution_data) == (
        "ALL",
        True,
    )
    assert quiet.machine_logging("backfill").level == loud.machine_logging("backfill").level == "ALL"
    assert not loud.machine_logging("backfill").include_execution_data
    assert EXECUTION_LOGS["errors"].logs("TaskFailed") and not EXECUTION_LOGS["errors"].logs("TaskSucceeded")
    assert EXECUTION_LOGS["errors"].details({"input": "{}", "error": "E"}) == {"error": "E"}


def test_logged_events_are_the_history_as_step_functions_writes_it_at_each_level() -> None:
    """What the local cloud writes to an Express log group, and the cost model weighs for Standard."""
    from datetime import UTC, datetime

    from filepipe.execution_logs import logged_events

    at = datetime(2026, 12, 5, tzinfo=UTC)
    history = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": at, "executionStartedEventDetails": {"input": "{}"}},
        {"id": 2, "type": "TaskFailed", "timestamp": at, "taskFailedEventDetails": {"error": "E", "cause": "why"}},
        {"id": 3, "type": "ExecutionFailed", "timestamp": at, "executionFailedEventDetails": {"error": "E"}},
    ]
    quiet = [json.loads(e["message"]) for e in logged_events(history, "arn:x", EXECUTION_LOGS["errors"])]
    assert [(e["type"], e["details"]) for e in quiet] == [
        ("TaskFailed", {"error": "E"}),
        ("ExecutionFailed", {"error": "E"}),
    ]
    loud = [json.loads(e["message"]) for e in logged_events(history, "arn:x", EXECUTION_LOGS["all"], after=1)]
    assert [e["type"] for e in loud] == ["TaskFailed", "ExecutionFailed"] and loud[0]["details"]["cause"] == "why"
    assert {e["execution_arn"] for e in quiet + loud} == {"arn:x"}
