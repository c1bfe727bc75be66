"""cdk-nag acknowledgements that do not belong to a single grant; each is one finding on one
resource, with its reason. Grant-level ones live beside their grants (``stack/permissions.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack.permissions import acknowledge, logical_id

if TYPE_CHECKING:
    from stack.pipeline_stack import FilepipeStack

NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
"""The function CDK adds to configure S3 notifications (a fixed construct ID in aws-cdk-lib)."""


def acknowledge_findings(stack: FilepipeStack) -> None:
    compute, workflow = stack.compute, stack.workflow
    acknowledge(
        compute.node.find_child("JobExecutionRole"),
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to the asset repository.",
    )
    acknowledge(
        workflow.role,
        "AwsSolutions-IAM5[Resource::*]",
        "batch:DescribeJobs (submitJob.sync), X-Ray and log delivery actions have no resource-level permissions.",
    )
    acknowledge(
        workflow.role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]",
        "Job IDs are generated at submit time; TerminateJob (a timed-out or aborted execution) names them.",
    )
    acknowledge(
        workflow.express_role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray and log delivery actions (the Express machine's history is its log group) have no resource-level "
        "permissions.",
    )
    for role in (workflow.role, workflow.express_role):
        for function in (compute.transform_function, compute.archive_function, compute.failure_function):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                "Invoking any version or alias of this one function (CDK's grantInvoke).",
            )
    for machine, role, function in (
        ("backfill", stack.backfill.role, stack.intake.trigger_function),
        ("reprocess", stack.reprocess.role, stack.reprocess.function),
    ):
        acknowledge(
            role, "AwsSolutions-IAM5[Resource::*]", "X-Ray and log delivery actions have no resource-level permissions."
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
            "Invoking any version or alias of the one function its Map hands items to (CDK's grantInvoke).",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{stack.stack_name}-{machine}/*]",
            "The Distributed Map's child executions, named by Step Functions at run time.",
        )
    handler = stack.node.try_find_child(NOTIFICATIONS_HANDLER)
    if handler is not None:
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's own deploy-time handler that sets the staging bucket's notifications; it only writes its logs.",
        )
