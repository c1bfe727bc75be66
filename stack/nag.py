"""cdk-nag acknowledgements that do not belong to a single grant; each is one finding on one
resource, with its reason. Grant-level ones live beside their grants (``stack/permissions.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from filepipe.deployment import LISTING_MACHINES, MACHINES
from stack.permissions import acknowledge, logical_id

NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
"""The function CDK adds to configure S3 notifications (a fixed construct ID in aws-cdk-lib)."""
MAP_FUNCTIONS = {"backfill": "trigger", "reprocess": "reprocess"}
"""The function each listing machine's Distributed Map hands its items to."""


def acknowledge_findings(
    stack: Stack,
    *,
    machine_roles: Mapping[str, iam.IRole],
    functions: Mapping[str, lambda_.IFunction],
    job_execution_role: IConstruct,
) -> None:
    acknowledge(
        job_execution_role,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to the asset repository.",
    )
    acknowledge(
        machine_roles["standard"],
        "AwsSolutions-IAM5[Resource::*]",
        "batch:DescribeJobs (submitJob.sync), X-Ray and log delivery actions have no resource-level permissions.",
    )
    acknowledge(
        machine_roles["standard"],
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]",
        "Job IDs are generated at submit time; TerminateJob (a timed-out or aborted execution) names them.",
    )
    acknowledge(
        machine_roles["express"],
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray and log delivery actions (the Express machine's history is its log group) have no resource-level "
        "permissions.",
    )
    failure_role = functions["failure"].role
    assert failure_role is not None
    acknowledge(
        failure_role,
        "AwsSolutions-IAM5[Resource::*]",
        "states:SendTaskSuccess and SendTaskFailure (the workflow's Failed step answers its own task token) have no "
        "resource-level permissions.",
    )
    for key in ("standard", "express"):
        for principal in ("transform", "archive", "failure"):
            acknowledge(
                machine_roles[key],
                f"AwsSolutions-IAM5[Resource::<{logical_id(functions[principal])}.Arn>:*]",
                "Invoking any version or alias of this one function (CDK's grantInvoke).",
            )
    for key in LISTING_MACHINES:
        role = machine_roles[key]
        acknowledge(
            role, "AwsSolutions-IAM5[Resource::*]", "X-Ray and log delivery actions have no resource-level permissions."
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(functions[MAP_FUNCTIONS[key]])}.Arn>:*]",
            "Invoking any version or alias of the one function its Map hands items to (CDK's grantInvoke).",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{stack.stack_name}{MACHINES[key].suffix}/*]",
            "The Distributed Map's child executions, named by Step Functions at run time.",
        )
    handler = stack.node.try_find_child(NOTIFICATIONS_HANDLER)
    if handler is not None:
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's own deploy-time handler that sets the staging bucket's notifications; it only writes its logs.",
        )
