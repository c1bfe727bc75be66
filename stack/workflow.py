"""Workflow: the Standard state machine, defined by ``state_machine/definition.asl.json``."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stack.compute import Compute
from stack.config import PipelineConfig
from stack.log_groups import log_group
from state_machine import DEFINITION_PATH

BATCH_SYNC_RULE = "StepFunctionsGetEventsForBatchJobsRule"
"""The EventBridge rule Step Functions manages to follow ``batch:submitJob.sync`` jobs."""
BATCH_TIMEOUT_ATTEMPTS = 3


def definition_substitutions(compute: Compute, config: PipelineConfig) -> dict[str, str]:
    """The values of the definition's placeholders; the local cloud fills the same names."""
    batch_wait = config.batch_runnable_timeout_seconds + BATCH_TIMEOUT_ATTEMPTS * config.batch_job_timeout_seconds
    return {
        "Partition": Aws.PARTITION,
        "LargeFileThresholdBytes": str(config.large_file_threshold_bytes),
        "BatchTaskTimeoutSeconds": str(batch_wait),
        "TransformFunctionArn": compute.transform_function.function_arn,
        "ArchiveFunctionArn": compute.archive_function.function_arn,
        "FailureFunctionArn": compute.failure_function.function_arn,
        "JobQueueArn": compute.job_queue.job_queue_arn,
        "JobDefinitionArn": compute.job_definition.job_definition_arn,
    }


class Workflow(Construct):
    """The state machine with its own role, full logging and X-Ray tracing."""

    def __init__(self, scope: Construct, construct_id: str, *, compute: Compute, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "ExecutionLogs", config.log_retention_days)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="filepipe: the state machine's permissions",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION_PATH)),
            definition_substitutions=definition_substitutions(compute, config),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant(compute)

    def _grant(self, compute: Compute) -> None:
        for function in (compute.transform_function, compute.archive_function, compute.failure_function):
            function.grant_invoke(self.role)
        stack = Stack.of(self)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["batch:SubmitJob"],
                resources=[compute.job_queue.job_queue_arn, compute.job_definition.job_definition_arn],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["batch:TerminateJob"],
                resources=[stack.format_arn(service="batch", resource="job", resource_name="*")],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]),
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=BATCH_SYNC_RULE)],
            )
        )
