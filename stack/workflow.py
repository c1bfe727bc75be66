"""Workflow: the Standard state machine, defined by ``state_machine/definition.asl.json``."""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stack import permissions as perm
from stack.compute import Compute
from stack.config import PipelineConfig
from stack.log_groups import vended_log_group
from state_machine import DEFINITION_PATH

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
        self.log_group = vended_log_group(self, "ExecutionLogs", config.log_retention_days, "states", "executions")
        self.role = perm.role(self, "Role", "state_machine")
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
        resources = replace(
            compute.resources,
            functions={
                "transform": compute.transform_function,
                "archive": compute.archive_function,
                "failure": compute.failure_function,
            },
            job_queue=compute.job_queue,
            job_definition=compute.job_definition,
        )
        perm.apply(self.role, "state_machine", resources)
