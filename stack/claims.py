"""Claims: the DynamoDB table that lets one execution at a time work on an object version.

Express executions are at-least-once (``filepipe/claims.py`` says how the lease works). On-demand
billing: one conditional write per file, nothing when idle; TTL removes old claims for free.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


class ClaimsTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, destroy_on_removal: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="version", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="expires",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN,
        )
