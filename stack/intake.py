"""Intake: staging's ObjectCreated events through SQS (with a dead-letter queue) to the trigger."""

from __future__ import annotations

import json

from aws_cdk import Annotations, Aws, Duration, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from filepipe.deployment_rules import Arn, intake_topic_statements
from stack.compute import Compute
from stack.names import StackNames

SNS_OWNER_ACTIONS = (
    "GetTopicAttributes",
    "SetTopicAttributes",
    "AddPermission",
    "RemovePermission",
    "DeleteTopic",
    "Subscribe",
    "ListSubscriptionsByTopic",
    "Publish",
)
"""SNS's default policy lets the topic's own account do these; a managed policy keeps them."""


class Intake(Construct):
    """Queue, dead-letter queue, the S3 notification, and the trigger function consuming it.

    SQS absorbs bursts beyond Step Functions' StartExecution rate: the trigger's concurrency
    is capped, throttled starts are reported as batch item failures and redelivered, and a
    message that never succeeds lands in the dead-letter queue (alarmed), never dropped.
    """

    def __init__(self, scope: Construct, construct_id: str, *, compute: Compute, registry: StackNames) -> None:
        super().__init__(scope, construct_id)
        config, buckets = registry.deployment, registry.buckets
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            visibility_timeout=Duration.seconds(config.queue_visibility_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=config.queue_max_receive_count, queue=self.dead_letter_queue
            ),
        )
        if buckets.adopted_staging:
            # An existing bucket may already notify someone else; S3 allows one notification per
            # event type and prefix. EventBridge delivery is additive: the stack only turns it on.
            buckets.staging.enable_event_bridge_notification()
            events.Rule(
                self,
                "StagingObjectCreated",
                description="filepipe: the existing staging bucket's ObjectCreated events to the intake queue",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={"bucket": {"name": [buckets.staging.bucket_name]}},
                ),
                targets=[targets.SqsQueue(self.queue)],
            )
        elif config.intake_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "Topic", config.intake_topic_arn)
            buckets.staging.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SnsDestination(topic))
            self._let_s3_publish(topic, buckets.staging, managed=config.intake_topic_policy == "managed")
            # Enveloped delivery keeps the topic's name on each message; the trigger reads both.
            topic.add_subscription(subscriptions.SqsSubscription(self.queue, raw_message_delivery=False))
        else:
            buckets.staging.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.queue))

        registry.queue = self.queue
        self.trigger_function = compute.function("trigger", scope=self)
        self.trigger_function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=config.trigger_batch_size,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=config.trigger_max_concurrency,
            )
        )

    def _let_s3_publish(self, topic: sns.ITopic, staging: s3.IBucket, *, managed: bool) -> None:
        """S3 checks, when the notification is set, that it may publish to the topic; the stack's
        bucket name is generated, so the topic's owner cannot name it in advance. ``managed``: the
        stack sets the topic's policy (SNS keeps one per topic, so it keeps SNS's default owner
        statement beside S3's), before the notification. Otherwise the owner adds the statements
        synth prints."""
        arn = Arn.parse(topic.topic_arn)
        assert arn is not None, "the deployment checked the topic's ARN"
        if not managed:
            account = Stack.of(self).account
            statements = intake_topic_statements(
                topic.topic_arn, "<this account>" if Token.is_unresolved(account) else account, arn.partition
            )
            Annotations.of(self).add_warning_v2(
                "filepipe:intakeTopicPolicy",
                "intakeTopicPolicy=external: the topic's policy must allow these statements before the deploy "
                f"(S3 checks it): {json.dumps(statements)}",
            )
            return
        (publish, _) = intake_topic_statements(topic.topic_arn, Aws.ACCOUNT_ID, arn.partition, staging.bucket_arn)
        owner = iam.PolicyStatement(
            sid="TopicOwner",
            principals=[iam.AnyPrincipal()],
            actions=[f"SNS:{action}" for action in SNS_OWNER_ACTIONS],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"AWS:SourceOwner": arn.account}},
        )
        policy = sns.TopicPolicy(
            self,
            "TopicPolicy",
            topics=[topic],
            policy_document=iam.PolicyDocument(statements=[owner, iam.PolicyStatement.from_json(publish)]),
        )
        notifications = staging.node.find_child("Notifications")
        notifications.node.add_dependency(policy)
