"""Workflow: the Standard state machine, defined by ``state_machine/definition.asl.json``, and
the Express tier's machine derived from the same file (``state_machine.express_template``)."""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stack import permissions as perm
from stack.compute import Compute
from stack.config import PipelineConfig
from stack.log_groups import vended_log_group
from state_machine import DEFINITION_PATH, express_template, express_values

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
    """Both state machines, each with its own role, full logging and X-Ray tracing.

    The Express machine exists whatever ``smallFileWorkflow`` says (idle, it costs nothing); the
    setting decides whether the trigger sends small files to it.
    """

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
        self._grant(compute, self.role, "state_machine")
        self.express_log_group = vended_log_group(
            self, "ExpressExecutionLogs", config.log_retention_days, "states", "express-executions"
        )
        self.express_role = perm.role(self, "ExpressRole", "express_state_machine")
        self.express_state_machine = sfn.StateMachine(
            self,
            "ExpressStateMachine",
            definition_body=sfn.DefinitionBody.from_string(express_template()),
            definition_substitutions=express_values(
                definition_substitutions(compute, config), self.state_machine.state_machine_arn
            ),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            role=self.express_role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.express_log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._grant(compute, self.express_role, "express_state_machine")

    def _grant(self, compute: Compute, role: iam.Role, principal: str) -> None:
        resources = replace(
            compute.resources,
            functions={
                "transform": compute.transform_function,
                "archive": compute.archive_function,
                "failure": compute.failure_function,
            },
            job_queue=compute.job_queue,
            job_definition=compute.job_definition,
            state_machine=getattr(self, "state_machine", None),
        )
        perm.apply(role, principal, resources)
