"""A Standard state machine whose Distributed Map works through an S3 listing (backfill, reprocess).

Each has its own role from the grants table, which names the machine by name (its Map Run starts
child executions of it), and its own execution log group.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stack import permissions as perm
from stack.compute import Compute
from stack.config import PipelineConfig
from stack.log_groups import vended_log_group


def listing_machine(
    scope: Construct,
    machine: str,
    definition: Path,
    substitutions: dict[str, str],
    functions: dict[str, lambda_.IFunction],
    compute: Compute,
    config: PipelineConfig,
) -> tuple[sfn.StateMachine, iam.Role, perm.StackResources]:
    """The ``<stack>-<machine>`` machine, its role (principal ``<machine>_state_machine``) and the
    resources its grants were rendered from."""
    log_group = vended_log_group(scope, "ExecutionLogs", config.log_retention_days, "states", machine)
    role = perm.role(scope, "Role", f"{machine}_state_machine")
    name = f"{Stack.of(scope).stack_name}-{machine}"
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=name,
        definition_body=sfn.DefinitionBody.from_file(str(definition)),
        definition_substitutions={"Partition": Aws.PARTITION, **substitutions},
        state_machine_type=sfn.StateMachineType.STANDARD,
        role=role,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    resources = replace(compute.resources, functions=functions, map_machine_names={machine: name})
    perm.apply(role, f"{machine}_state_machine", resources)
    return state_machine, role, resources
