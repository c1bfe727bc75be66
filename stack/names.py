"""What the stack calls things: the deployment's :class:`~filepipe.grants.Names`, as CDK tokens.

Constructs register what they make as they are made; a construct made later reads what is
there already (a function's environment names the state machine, so it comes after it). The
grants are rendered once every resource exists (``FilepipeStack``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from filepipe.deployment import LISTING_MACHINES, MACHINES, Deployment, Resources
from filepipe.grants import Names
from stack.buckets import Buckets
from stack.log_groups import vended_log_group_name


@dataclass
class StackNames:
    """The stack's resources, registered by the constructs that make them."""

    scope: Construct
    deployment: Deployment
    buckets: Buckets
    claims_table: dynamodb.ITable
    kms_key: kms.IKey | None = None
    machines: dict[str, sfn.StateMachine] = field(default_factory=dict)
    functions: dict[str, lambda_.IFunction] = field(default_factory=dict)
    roles: dict[str, iam.IRole] = field(default_factory=dict)
    """Every principal's role: the grants are rendered onto these."""
    queue: sqs.IQueue | None = None
    job_queue_arn: str | None = None
    job_definition_arn: str | None = None
    upload_auth_environment: dict[str, str] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return Stack.of(self.scope).stack_name

    def machine_name(self, key: str) -> str:
        """The fixed name of a listing machine (the others' names are CloudFormation's)."""
        assert key in LISTING_MACHINES, key
        return f"{self.stack_name}{MACHINES[key].suffix}"

    def names(self) -> Names:
        staging, archive = self.buckets.staging, self.buckets.archive
        machines = {key: m.state_machine_name for key, m in self.machines.items()}
        return Names(
            partition=Aws.PARTITION,
            region=Aws.REGION,
            account=Aws.ACCOUNT_ID,
            buckets={"staging": staging.bucket_name, "archive": archive.bucket_name},
            bucket_arns={"staging": staging.bucket_arn, "archive": archive.bucket_arn},
            prefixes=self.deployment.area_prefixes(),
            machines=machines | {key: self.machine_name(key) for key in LISTING_MACHINES},
            machine_arns={key: m.state_machine_arn for key, m in self.machines.items() if key not in LISTING_MACHINES},
            functions={principal: f.function_arn for principal, f in self.functions.items()},
            roles={principal: r.role_arn for principal, r in self.roles.items()},
            claims_table=self.claims_table.table_arn,
            queue=self.queue.queue_arn if self.queue is not None else None,
            job_queue=self.job_queue_arn,
            job_definition=self.job_definition_arn,
            kms_key=self.kms_key.key_arn if self.kms_key is not None else None,
        )

    def resources(self) -> Resources:
        return Resources(
            names=self.names(),
            claims_table_name=self.claims_table.table_name,
            express_log_group=vended_log_group_name(self.scope, "states", MACHINES["express"].log_purpose),
            upload_auth_environment=self.upload_auth_environment,
        )
