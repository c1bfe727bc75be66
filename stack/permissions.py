"""The grants table (``filepipe/grants.py``) rendered into CDK: roles, their statements, and the
cdk-nag acknowledgements their prefix-scoped resources need.

An object-level grant needs a ``prefix*`` resource (the keys are the users' upload names), which
cdk-nag's IAM5 reports; each grant acknowledges exactly its own finding on its own role.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment as NagAcknowledgment
from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from filepipe.grants import PRINCIPALS, Names, Objects


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


def apply(target: iam.IRole, principal: str, names: Names, buckets: dict[str, s3.IBucket]) -> None:
    """Add every grant of ``principal`` to ``target``'s policy, and acknowledge its prefixes."""
    for actions, arns in names.statements(PRINCIPALS[principal]):
        target.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=arns))
    for grant in PRINCIPALS[principal].grants:
        for resource in grant.resources:
            if isinstance(resource, Objects):
                _acknowledge_prefix(target, buckets[resource.bucket], resource.prefix(names.prefixes))


def _acknowledge_prefix(target: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
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
