"""Workflow: the Standard state machine, defined by ``state_machine/definition.asl.json``, and
the Express tier's machine derived from the same file (``state_machine.express_template``)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from filepipe.deployment import MACHINES
from stack import permissions as perm
from stack.log_groups import vended_log_group
from stack.names import StackNames


def state_machine(
    scope: Construct,
    registry: StackNames,
    key: str,
    *,
    role_id: str = "Role",
    machine_id: str = "StateMachine",
    logs_id: str = "ExecutionLogs",
    name: str | None = None,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """Machine ``key`` of ``MACHINES``: its definition filled as the deployment says, its own role
    and log group (at the level ``executionLogs`` says), X-Ray tracing; registered with its role."""
    spec = MACHINES[key]
    config = registry.deployment
    logging = config.machine_logging(key)
    log_group = vended_log_group(scope, logs_id, config.log_retention_days, "states", spec.log_purpose)
    role = perm.role(scope, role_id, spec.principal)
    machine = sfn.StateMachine(
        scope,
        machine_id,
        state_machine_name=name,
        definition_body=(
            sfn.DefinitionBody.from_file(str(spec.path))
            if spec.path
            else sfn.DefinitionBody.from_string(spec.template())
        ),
        definition_substitutions=config.definition_values(key, registry.names()),
        state_machine_type=sfn.StateMachineType[spec.type],
        role=role,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group,
            level=sfn.LogLevel[logging.level],
            include_execution_data=logging.include_execution_data,
        ),
    )
    if logging.level != "ALL":
        perm.acknowledge(
            machine,
            "AwsSolutions-SF1",
            "executionLogs=errors: one execution per file, and CloudWatch Logs bills each byte; error events "
            "still reach the log group (executionLogs=all logs every event).",
        )
    registry.machines[key] = machine
    registry.roles[spec.principal] = role
    return machine, log_group


class Workflow(Construct):
    """Both per-file state machines, each with its own role, its log group and X-Ray tracing.

    The Express machine exists whatever ``smallFileWorkflow`` says (idle, it costs nothing); the
    setting decides whether the trigger sends small files to it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, registry: StackNames) -> None:
        super().__init__(scope, construct_id)
        self.state_machine, self.log_group = state_machine(self, registry, "standard")
        self.express_state_machine, self.express_log_group = state_machine(
            self,
            registry,
            "express",
            role_id="ExpressRole",
            machine_id="ExpressStateMachine",
            logs_id="ExpressExecutionLogs",
        )
        self.role = registry.roles["state_machine"]
        self.express_role = registry.roles["express_state_machine"]
