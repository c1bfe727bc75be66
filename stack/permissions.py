"""The grants table (``filepipe/grants.py``) rendered into CDK: roles, their statements, and the
cdk-nag acknowledgements their prefix-scoped resources need.

An object-level grant needs a ``prefix*`` resource (the keys are the users' upload names), which
cdk-nag's IAM5 reports; each grant acknowledges exactly its own finding on its own role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aws_cdk import Acknowledgment as NagAcknowledgment
from aws_cdk import ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_batch as batch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from filepipe.grants import BATCH_SYNC_RULE, PRINCIPALS, Bucket, Named, Objects, Resource

T = TypeVar("T")


@dataclass
class StackResources:
    """The resources the grants table names, as far as the calling construct knows them."""

    staging: s3.IBucket
    archive: s3.IBucket
    prefixes: Mapping[str, str]
    """Area name -> prefix (``originals`` -> ``originals/``), from the configuration."""
    state_machine: sfn.StateMachine | None = None
    express_state_machine: sfn.StateMachine | None = None
    map_machine_names: dict[str, str] = field(default_factory=dict)
    """The Distributed Map machines (``backfill``, ``reprocess``) by name, not by reference: each
    machine's own role names it (a reference would be circular)."""
    claims_table: dynamodb.ITable | None = None
    kms_key: kms.IKey | None = None
    """The existing buckets' SSE-KMS key (``kmsKeyArn``); None: its grants are left out."""
    queue: sqs.IQueue | None = None
    functions: dict[str, lambda_.IFunction] = field(default_factory=dict)
    roles: dict[str, iam.IRole] = field(default_factory=dict)
    job_queue: batch.IJobQueue | None = None
    job_definition: batch.IJobDefinition | None = None

    def arns(self, scope: Construct, resource: Resource) -> list[str]:
        """The ARNs (tokens) ``resource`` stands for in this stack."""
        if isinstance(resource, Objects):
            return [self._bucket(resource.bucket).arn_for_objects(f"{resource.prefix(self.prefixes)}*")]
        if isinstance(resource, Bucket):
            return [self._bucket(resource.bucket).bucket_arn]
        return self._named(scope, resource)

    def _bucket(self, name: str) -> s3.IBucket:
        return self.staging if name == "staging" else self.archive

    def _named(self, scope: Construct, resource: Named) -> list[str]:
        stack = Stack.of(scope)
        if resource.kind == "function":
            arn = _known(self.functions.get(resource.name), f"function {resource.name}").function_arn
            return [arn, f"{arn}:*"]
        if resource.kind == "role":
            return [_known(self.roles.get(resource.name), f"role {resource.name}").role_arn]
        if resource.kind == "kms_key":
            return [self.kms_key.key_arn] if self.kms_key is not None else []
        for machine in ("backfill", "reprocess"):
            if resource.kind in (f"{machine}_state_machine", f"{machine}_map_executions"):
                name = _known(self.map_machine_names.get(machine), f"{machine} state machine")
                executions = resource.kind.endswith("_map_executions")
                return [
                    stack.format_arn(
                        service="states",
                        resource="execution" if executions else "stateMachine",
                        resource_name=f"{name}/*" if executions else name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ]
        render: dict[str, Callable[[], str]] = {
            "state_machine": lambda: _known(self.state_machine, "state machine").state_machine_arn,
            "executions": lambda: stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{_known(self.state_machine, 'state machine').state_machine_name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            "express_state_machine": lambda: (
                _known(self.express_state_machine, "Express state machine").state_machine_arn
            ),
            "claims_table": lambda: _known(self.claims_table, "claims table").table_arn,
            "queue": lambda: _known(self.queue, "queue").queue_arn,
            "job_queue": lambda: _known(self.job_queue, "job queue").job_queue_arn,
            "job_definition": lambda: _known(self.job_definition, "job definition").job_definition_arn,
            "jobs": lambda: stack.format_arn(service="batch", resource="job", resource_name="*"),
            "batch_sync_rule": lambda: stack.format_arn(
                service="events", resource="rule", resource_name=BATCH_SYNC_RULE
            ),
            "any": lambda: "*",
        }
        if resource.kind not in render:
            raise ValueError(f"the grants table names an unknown resource kind {resource.kind!r}")
        return [render[resource.kind]()]


def _known(value: T | None, what: str) -> T:
    if value is None:
        raise ValueError(f"a grant names the {what}, which this construct was not given")
    return value


def role(scope: Construct, construct_id: str, principal: str, assumed_by: iam.IPrincipal | None = None) -> iam.Role:
    """The role of one principal of the table, trusted by its service (or ``assumed_by``)."""
    spec = PRINCIPALS[principal]
    if assumed_by is None:
        assert spec.trusts_service, f"{principal} is assumed by {spec.assumed_by}: pass that principal"
        assumed_by = iam.ServicePrincipal(spec.assumed_by)
    return iam.Role(
        scope,
        construct_id,
        assumed_by=assumed_by,
        description=spec.description,
        max_session_duration=Duration.seconds(spec.max_session_seconds),
    )


def apply(target: iam.IRole, principal: str, resources: StackResources) -> None:
    """Add every grant of ``principal`` to ``target``'s policy."""
    scope = target if isinstance(target, Construct) else None
    assert scope is not None, "grants are rendered onto roles of this stack"
    for grant in PRINCIPALS[principal].grants:
        arns = [arn for resource in grant.resources for arn in resources.arns(scope, resource)]
        if not arns:  # an optional resource this deployment does not have (no KMS key)
            continue
        target.add_to_principal_policy(iam.PolicyStatement(actions=list(grant.actions), resources=arns))
        for resource in grant.resources:
            if isinstance(resource, Objects):
                _acknowledge_prefix(target, resources, resource)


def _acknowledge_prefix(target: iam.IRole, resources: StackResources, objects: Objects) -> None:
    bucket = resources.staging if objects.bucket == "staging" else resources.archive
    prefix = objects.prefix(resources.prefixes)
    if bucket.node.default_child is None:  # an existing bucket, named by context
        arn = f"arn:<AWS::Partition>:s3:::{bucket.bucket_name}/{prefix}*"
    else:
        arn = f"<{logical_id(bucket)}.Arn>/{prefix}*"
    acknowledge(
        target,
        f"AwsSolutions-IAM5[Resource::{arn}]",
        f"Object keys are upload names, unknown at deploy time; scoped to '{prefix}*' of one bucket.",
    )


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical ID of a construct's resource, as cdk-nag names it."""
    default_child = construct.node.default_child
    assert default_child is not None, f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(Stack.of(construct).get_logical_id(default_child)))  # type: ignore[arg-type]


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on one construct."""
    Validations.of(scope).acknowledge(NagAcknowledgment(id=f"AwsSolutions::{finding}", reason=reason))
