"""IAM statements scoped to exact buckets, prefixes and actions; no wildcard actions.

An object-level grant needs a ``prefix*`` resource (the keys are the users' upload names), which
cdk-nag's IAM5 reports; each grant acknowledges exactly its own finding on its own role.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

READ_VERSION = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"]
WRITE = ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"]
DELETE_VERSION = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
LIST = ["s3:ListBucket", "s3:ListBucketVersions"]
"""HeadObject answers 404 (not 403) for a missing key only with ListBucket."""


def grant_objects(role: iam.IRole, actions: list[str], bucket: s3.IBucket, prefixes: Iterable[str]) -> None:
    """``actions`` on the objects under each prefix (``""``: the whole bucket) of ``bucket``."""
    prefixes = list(prefixes)
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes])
    )
    bucket_id = logical_id(bucket)
    for prefix in prefixes:
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
            f"Object keys are upload names, unknown at deploy time; scoped to '{prefix}*' of one bucket.",
        )


def grant_list(role: iam.IRole, *buckets: s3.IBucket) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(actions=LIST, resources=[b.bucket_arn for b in buckets]))


def lambda_role(scope: Construct, construct_id: str, description: str) -> iam.Role:
    """A role for one function and nothing else (its log group is granted by the caller)."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical ID of a construct's resource, as cdk-nag names it."""
    default_child = construct.node.default_child
    assert default_child is not None, f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(Stack.of(construct).get_logical_id(default_child)))  # type: ignore[arg-type]


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on one construct."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))
