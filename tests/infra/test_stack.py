"""The synthesized template: every resource the pipeline needs, with its security properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.infra

STAGING, ARCHIVE = "BucketsStaging4C868D13", "BucketsArchiveCE3432CC"


def test_stateful_resources_keep_their_logical_ids(synth: Synthesized) -> None:
    """A refactor that renames these would make CloudFormation replace (empty) them."""
    resources = synth.raw["Resources"]
    assert resources[STAGING]["Type"] == "AWS::S3::Bucket"
    assert resources[ARCHIVE]["Type"] == "AWS::S3::Bucket"
    assert resources["IntakeQueue6FB53B87"]["Type"] == "AWS::SQS::Queue"
    assert resources["IntakeDeadLetterQueueA5C12DB5"]["Type"] == "AWS::SQS::Queue"
    for bucket in (STAGING, ARCHIVE):
        assert resources[bucket]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("bucket", [STAGING, ARCHIVE])
def test_buckets_are_private_encrypted_versioned_and_logged(synth: Synthesized, bucket: str) -> None:
    props = synth.raw["Resources"][bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    aborts = [r for r in props["LifecycleConfiguration"]["Rules"] if "AbortIncompleteMultipartUpload" in r]
    assert aborts[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


@pytest.mark.parametrize("bucket", [STAGING, ARCHIVE])
def test_buckets_refuse_plain_http(synth: Synthesized, bucket: str) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_staging_expires_replaced_versions_and_allows_browser_uploads(synth: Synthesized) -> None:
    props = synth.raw["Resources"][STAGING]["Properties"]
    expiring = [r for r in props["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" in r]
    assert expiring[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    configured, upload_page = props["CorsConfiguration"]["CorsRules"]
    assert sorted(configured["AllowedMethods"]) == ["POST", "PUT"]
    assert configured["ExposedHeaders"] == ["ETag"]
    assert configured["AllowedOrigins"] == ["http://localhost:4566"]
    assert upload_page["ExposedHeaders"] == ["ETag"]
    assert upload_page["AllowedOrigins"] == [{"Fn::GetAtt": ["UploadApi8C811B21", "ApiEndpoint"]}]


def test_only_staging_notifies_and_only_object_created(synth: Synthesized) -> None:
    _, notifications = synth.one("Custom::S3BucketNotifications")
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": STAGING}
    (queue_config,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_config["Events"] == ["s3:ObjectCreated:*"]
    assert queue_config["QueueArn"] == {"Fn::GetAtt": ["IntakeQueue6FB53B87", "Arn"]}


def test_intake_queue_is_encrypted_with_a_dead_letter_queue(synth: Synthesized) -> None:
    queue = synth.raw["Resources"]["IntakeQueue6FB53B87"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IntakeDeadLetterQueueA5C12DB5", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 360
    assert synth.raw["Resources"]["IntakeDeadLetterQueueA5C12DB5"]["Properties"]["SqsManagedSseEnabled"] is True
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_trigger_consumes_the_queue_in_batches_reporting_item_failures(synth: Synthesized) -> None:
    _, mapping = synth.one("AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["IntakeQueue6FB53B87", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    assert props["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert props["FunctionName"]["Ref"].startswith("IntakeTriggerFunction")


def test_functions_run_the_worker_image_with_their_own_handler(synth: Synthesized) -> None:
    commands = {}
    for function in synth.resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        if props.get("PackageType") != "Image":
            continue
        assert props["ImageConfig"]["EntryPoint"] == ["/usr/local/bin/filepipe-lambda"]
        assert props["Architectures"] == ["x86_64"]
        commands[props["ImageConfig"]["Command"][0]] = props
        assert "LoggingConfig" in props
    assert sorted(commands) == [
        "moves_lambda.handler.archive_handler",
        "moves_lambda.handler.failure_handler",
        "moves_lambda.handler.reprocess_handler",
        "transform_lambda.handler.handler",
        "trigger_lambda.handler.handler",
        "upload_api.handler.handler",
    ]
    trigger_env = commands["trigger_lambda.handler.handler"]["Environment"]["Variables"]
    assert trigger_env["STATE_MACHINE_ARN"] == {"Ref": "WorkflowStateMachine8F1B1C15"}
    transform_env = commands["transform_lambda.handler.handler"]["Environment"]["Variables"]
    assert transform_env["STAGING_BUCKET"] == {"Ref": STAGING}
    assert transform_env["ARCHIVE_BUCKET"] == {"Ref": ARCHIVE}
    assert transform_env["FAILED_PREFIX"] == "failed/"
    assert commands["transform_lambda.handler.handler"]["MemorySize"] == 2048
    roles = {json.dumps(p["Role"]) for p in commands.values()}
    assert len(roles) == len(commands), "every function has its own role"


def test_batch_runs_the_worker_on_fargate_retrying_only_transient_exits(synth: Synthesized) -> None:
    _, environment = synth.one("AWS::Batch::ComputeEnvironment")
    assert environment["Properties"]["ComputeResources"]["Type"] == "FARGATE"
    assert environment["Properties"]["ComputeResources"]["MaxvCpus"] == 32
    _, queue = synth.one("AWS::Batch::JobQueue")
    assert queue["Properties"]["ComputeEnvironmentOrder"][0]["Order"] == 1
    _, job = synth.one("AWS::Batch::JobDefinition")
    props = job["Properties"]
    assert props["PlatformCapabilities"] == ["FARGATE"]
    container = props["ContainerProperties"]
    assert container["Command"] == ["python", "-m", "batch_image.worker"]
    assert {"Type": "VCPU", "Value": "2"} in container["ResourceRequirements"]
    assert {"Type": "MEMORY", "Value": "4096"} in container["ResourceRequirements"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}
    strategy = props["RetryStrategy"]
    assert strategy["Attempts"] == 3
    rules = strategy["EvaluateOnExit"]
    assert rules[0] == {"Action": "RETRY", "OnExitCode": "75"}
    assert rules[-1] == {"Action": "EXIT", "OnExitCode": "*"}
    assert not any(r.get("OnExitCode") == "65" and r["Action"] == "RETRY" for r in rules)
    assert props["Timeout"] == {"AttemptDurationSeconds": 4 * 3600}


def test_the_image_is_built_for_linux_amd64_wherever_cdk_deploy_runs(synth: Synthesized) -> None:
    """From an arm64 laptop an unpinned build makes an image neither Lambda (x86_64) nor the job
    definition's platform can run."""
    (manifest,) = synth.outdir.glob("*.assets.json")
    images = json.loads(manifest.read_text())["dockerImages"]
    assert images, "the functions and the job use the worker image"
    assert {image["source"].get("platform") for image in images.values()} == {"linux/amd64"}


def test_the_archive_expires_replaced_versions_but_keeps_failure_history_longer(synth: Synthesized) -> None:
    rules = {r["Id"]: r for r in synth.raw["Resources"][ARCHIVE]["Properties"]["LifecycleConfiguration"]["Rules"]}
    kept = {
        r["Prefix"]: r["NoncurrentVersionExpiration"]["NoncurrentDays"]
        for r in rules.values()
        if "NoncurrentVersionExpiration" in r
    }
    assert kept == {
        "originals/": 90,
        "outputs/": 90,
        "superseded/": 90,
        "failed/": 365,
        "errors/": 365,
        **{records: 1 for records in ("grants/", "reports/", "manifests/", "resolved/", "results/")},
    }
    expiring = {r["Prefix"]: r["ExpirationInDays"] for r in rules.values() if "ExpirationInDays" in r}
    assert expiring == {"grants/": 365, "reports/": 7, "manifests/": 7, "resolved/": 365, "results/": 7}, (
        "current objects never expire, but grants, reports, manifests, resolved records and Map Run results"
    )


def test_expired_records_are_really_deleted(synth: Synthesized) -> None:
    """In a versioned bucket an expiration only adds a delete marker: the version under it must
    expire too, and the marker be removed; S3 answers MalformedXML to ExpiredObjectDeleteMarker
    beside Days in one rule, so each prefix has a second rule for its markers."""
    rules = synth.raw["Resources"][ARCHIVE]["Properties"]["LifecycleConfiguration"]["Rules"]
    for rule in rules:
        assert not ("ExpiredObjectDeleteMarker" in rule and "ExpirationInDays" in rule), rule["Id"]
    for prefix in ("grants/", "reports/", "manifests/", "resolved/"):
        mine = [r for r in rules if r.get("Prefix") == prefix]
        (expiring,) = [r for r in mine if "ExpirationInDays" in r]
        assert expiring["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}, prefix
        assert any(r.get("ExpiredObjectDeleteMarker") is True for r in mine), prefix


def test_service_log_groups_are_vended_logs(synth: Synthesized) -> None:
    """Step Functions and API Gateway deliver through the account's CloudWatch Logs resource
    policy: under /aws/vendedlogs/ one entry covers every group, else the policy's size limit."""
    names = {
        logical_id: group["Properties"].get("LogGroupName")
        for logical_id, group in synth.resources("AWS::Logs::LogGroup").items()
    }
    (machine,) = [n for k, n in names.items() if k.startswith("WorkflowExecutionLogs")]
    (api,) = [n for k, n in names.items() if k.startswith("UploadApiAccessLogs")]
    assert machine == "/aws/vendedlogs/states/Filepipe-executions"
    assert api == "/aws/vendedlogs/apigateway/Filepipe-upload-api-access"


def test_vpc_has_no_nat_gateway_and_logs_rejected_flows(synth: Synthesized) -> None:
    assert not synth.resources("AWS::EC2::NatGateway")
    _, flow_log = synth.one("AWS::EC2::FlowLog")
    assert flow_log["Properties"]["TrafficType"] == "REJECT"
    _, endpoint = synth.one("AWS::EC2::VPCEndpoint")
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"


def test_state_machine_is_standard_logged_and_traced(synth: Synthesized) -> None:
    machine = synth.machine()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_the_express_machine_logs_its_errors_to_its_own_log_group(synth: Synthesized) -> None:
    """An Express execution's only history is its log group: by default its error events, named
    to every function (a failure record says where to look)."""
    props = synth.machine("EXPRESS")["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ERROR" and logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    name = synth.raw["Resources"][group]["Properties"]["LogGroupName"]
    assert name == "/aws/vendedlogs/states/Filepipe-express-executions"
    functions = synth.resources("AWS::Lambda::Function").values()
    assert {
        f["Properties"].get("Environment", {}).get("Variables", {}).get("EXPRESS_LOG_GROUP") for f in functions
    } >= {name}


def test_the_trigger_sends_every_file_to_standard_by_default(synth: Synthesized) -> None:
    env = _trigger_environment(synth.raw)
    assert env["EXPRESS_STATE_MACHINE_ARN"] == ""
    assert env["LARGE_FILE_THRESHOLD_BYTES"] == str(128 * 1024 * 1024)


def test_small_file_workflow_express_sends_small_files_to_the_express_machine(tmp_path: Any) -> None:
    from aws_cdk import App

    from app import build_app

    app, stack = build_app(App(outdir=str(tmp_path), context={"smallFileWorkflow": "express"}))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    (express_id,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and r["Properties"]["StateMachineType"] == "EXPRESS"
    ]
    assert _trigger_environment(template)["EXPRESS_STATE_MACHINE_ARN"] == {"Ref": express_id}


def _trigger_environment(template: dict[str, Any]) -> dict[str, Any]:
    (trigger,) = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and k.startswith("IntakeTriggerFunction")
    ]
    return dict(trigger["Properties"]["Environment"]["Variables"])


def test_claims_are_on_demand_expire_by_ttl_and_are_recoverable(synth: Synthesized) -> None:
    _, table = synth.one("AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": "version", "KeyType": "HASH"}]
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_dashboard_shows_both_tiers(synth: Synthesized) -> None:
    _, dashboard = synth.one("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    wanted_metrics = (
        "Files",
        "TransformSeconds",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
        "ExecutionsStarted",
        "ServiceIntegrationsTimedOut",
    )
    for wanted in wanted_metrics:
        assert wanted in body, wanted


def test_every_log_group_has_retention(synth: Synthesized) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 7
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}


def test_alarms_cover_failures_dead_letters_stalls_and_function_errors(synth: Synthesized) -> None:
    """Failed and timed-out executions of both machines, failed backfills and reprocesses, files
    the sweep found, dead letters, a stalled intake, and each function's errors."""
    metrics = sorted(
        (p["Namespace"], p["MetricName"])
        if "MetricName" in p
        else (
            p["Metrics"][1]["MetricStat"]["Metric"]["Namespace"],
            p["Metrics"][1]["MetricStat"]["Metric"]["MetricName"],
        )
        for p in (a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values())
    )
    assert metrics == sorted(
        [
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsTimedOut"),
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsTimedOut"),
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsFailed"),
            ("filepipe", "FilesStartedFromListing"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
            ("filepipe", "TransformFailures"),
        ]
        + [("AWS/Lambda", "Errors")] * 5
    )
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_the_transform_alarm_counts_failures_not_duplicates_or_hand_overs(synth: Synthesized) -> None:
    """Lambda's Errors counts the DuplicateExecution and WouldNotFit the transform raises on
    purpose; the alarm sums the handler's own TransformFailures over both tiers instead."""
    (alarm,) = [a["Properties"] for k, a in synth.resources("AWS::CloudWatch::Alarm").items() if "TransformErrors" in k]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert metrics.pop("expr_1")["Expression"] == "FILL(standard, 0) + FILL(express, 0)"
    for tier, metric in metrics.items():
        stat = metric["MetricStat"]
        assert stat["Metric"]["MetricName"] == "TransformFailures" and stat["Stat"] == "Sum"
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": "filepipe-transform"},
            {"Name": "tier", "Value": tier},
        ]
    assert set(metrics) == {"standard", "express"}


def test_outputs_name_what_the_cli_needs(synth: Synthesized) -> None:
    outputs = synth.raw["Outputs"]
    assert outputs["StagingBucketName"]["Value"] == {"Ref": STAGING}
    assert outputs["ArchiveBucketName"]["Value"] == {"Ref": ARCHIVE}
    assert outputs["StateMachineArn"]["Value"] == {"Ref": "WorkflowStateMachine8F1B1C15"}
    assert outputs["IntakeQueueUrl"]["Value"] == {"Ref": "IntakeQueue6FB53B87"}
    for name in ("DeadLetterQueueUrl", "JobQueueArn", "FailedPrefix", "ErrorsPrefix"):
        assert name in outputs


def test_events_can_come_through_an_existing_sns_topic(tmp_path: Any) -> None:
    """-c intakeTopicArn=...: the staging bucket notifies that topic and the intake queue
    subscribes to it (enveloped), for teams that fan a bucket's events out to several consumers."""
    from aws_cdk import App

    from app import build_app

    topic = "arn:aws:sns:us-east-1:123456789012:uploads-fanout"
    app, stack = build_app(App(outdir=str(tmp_path), context={"intakeTopicArn": topic}))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    resources = template["Resources"]
    (notifications,) = [r for r in resources.values() if r["Type"] == "Custom::S3BucketNotifications"]
    (topic_config,) = notifications["Properties"]["NotificationConfiguration"]["TopicConfigurations"]
    assert topic_config["TopicArn"] == topic and topic_config["Events"] == ["s3:ObjectCreated:*"]
    (subscription,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["TopicArn"] == topic and subscription["Protocol"] == "sqs"
    assert not subscription.get("RawMessageDelivery"), "enveloped: the trigger reads the SNS envelope"
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert any(
        s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn") == topic
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
    ), "the topic may send to the intake queue"


def test_the_stack_lets_s3_publish_to_a_topic_of_its_account_before_notifying_it(tmp_path: Any) -> None:
    """S3 checks at PutBucketNotificationConfiguration that it may publish: without the topic's
    permission the deploy fails, and the generated bucket name cannot be named in advance."""
    from aws_cdk import App

    from app import build_app

    topic = "arn:aws:sns:us-east-1:123456789012:uploads-fanout"
    app, stack = build_app(App(outdir=str(tmp_path), context={"intakeTopicArn": topic}))
    resources = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]
    ((policy_id, policy),) = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert policy["Properties"]["Topics"] == [topic]
    owner, publish = policy["Properties"]["PolicyDocument"]["Statement"]
    assert owner["Condition"] == {"StringEquals": {"AWS:SourceOwner": "123456789012"}}, "SNS's default statement"
    assert publish == {
        "Sid": "FilepipeStagingEvents",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "SNS:Publish",
        "Resource": topic,
        "Condition": {
            "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [STAGING, "Arn"]}},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        },
    }
    (notifications,) = [r for r in resources.values() if r["Type"] == "Custom::S3BucketNotifications"]
    assert policy_id in notifications["DependsOn"], "S3 validates the destination when the notification is set"


def test_an_externally_managed_topic_policy_is_left_alone_and_its_statements_printed(tmp_path: Any) -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Annotations, Match

    from app import build_app

    topic = "arn:aws:sns:us-east-1:444455556666:central-events"
    context = {"intakeTopicArn": topic, "intakeTopicPolicy": "external"}
    app, stack = build_app(App(outdir=str(tmp_path), context=context))
    resources = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("FilepipeStagingEvents.*SNS:Subscribe"))


def test_the_sweep_schedule_is_off_unless_asked_for(synth: Synthesized, tmp_path: Any) -> None:
    from aws_cdk import App

    from app import build_app

    _, schedule = synth.one("AWS::Scheduler::Schedule")
    assert schedule["Properties"]["State"] == "DISABLED"
    app, stack = build_app(
        App(outdir=str(tmp_path), context={"sweepEveryMinutes": "15", "sweepOlderThanMinutes": "90"})
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    (schedule,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert schedule["State"] == "ENABLED" and schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert json.loads(schedule["Target"]["Input"]) == {"prefix": "", "olderThanSeconds": 5400, "reason": "sweep"}
    assert schedule["Target"]["Arn"] == {
        "Ref": next(
            k
            for k, r in template["Resources"].items()
            if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("BackfillStateMachine")
        )
    }


def test_every_retention_cloudwatch_accepts_is_rendered_exactly() -> None:
    """``logRetentionDays`` is checked against CloudWatch's list; the stack renders each as itself."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Template

    from filepipe.deployment_rules import LOG_RETENTION_DAYS
    from stack.log_groups import retention

    stack = Stack(App(), "Retentions")
    for days in LOG_RETENTION_DAYS:
        logs.LogGroup(stack, f"Group{days}", retention=retention(days))
    rendered = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["RetentionInDays"] for g in rendered.values()) == sorted(LOG_RETENTION_DAYS)


def test_execution_logs_errors_by_default_logs_error_events_without_data_and_functions_at_warning(
    synth: Synthesized,
) -> None:
    """By default (``executionLogs=errors``) both per-file machines log error events only, without
    input and output, and every function logs at WARNING; the listing machines log every event."""
    machines = synth.resources("AWS::StepFunctions::StateMachine").values()
    levels = sorted(
        (
            m["Properties"]["LoggingConfiguration"]["Level"],
            m["Properties"]["LoggingConfiguration"]["IncludeExecutionData"],
        )
        for m in machines
    )
    assert levels == [("ALL", False), ("ALL", False), ("ERROR", False), ("ERROR", False)]
    assert function_log_levels(synth.raw) == {"WARNING"}


def test_execution_logs_all_logs_every_event_with_data_and_functions_at_info(tmp_path: Any) -> None:
    """``-c executionLogs=all``, for debugging: both per-file machines log every event with its
    data, and every function logs at INFO."""
    import aws_cdk as cdk

    from app import build_app

    app, stack = build_app(cdk.App(outdir=str(tmp_path), context={"executionLogs": "all"}))
    raw = app.synth().get_stack_by_name(stack.stack_name).template
    machines = [r["Properties"] for r in raw["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    levels = sorted(
        (m["LoggingConfiguration"]["Level"], m["LoggingConfiguration"]["IncludeExecutionData"]) for m in machines
    )
    assert levels == [("ALL", False), ("ALL", False), ("ALL", True), ("ALL", True)]
    assert function_log_levels(raw) == {"INFO"}


def function_log_levels(template: dict[str, Any]) -> set[str]:
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    return {
        f["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"]
        for f in functions
        if "POWERTOOLS_LOG_LEVEL" in f.get("Environment", {}).get("Variables", {})
    }
