"""The local cloud's resources, made from the deployment's description as the stack makes them:
both buckets (versioned), the intake queue and its dead-letter queue, staging's notification,
every state machine of ``MACHINES`` with its role and log group, and the claims table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

import state_machine
from filepipe.deployment import MACHINES, Deployment
from filepipe.grants import Names
from filepipe.local.config import LocalConfig

EVENTBRIDGE_RULE = "filepipe-staging-object-created"
KMS_KEY_DESCRIPTION = "filepipe local buckets"
Client = Callable[[str], Any]
"""Service name -> a boto3 client signing as the developer."""


class LocalResources:
    """Makes (and after a reset, remakes) the deployment's resources at the local endpoint."""

    def __init__(self, config: LocalConfig, names: Names, client: Client) -> None:
        self.config, self.names, self._client = config, names, client
        self.queue_url = ""
        self.dead_letter_queue_url = ""

    @property
    def deployment(self) -> Deployment:
        return self.config.deployment

    def create(self) -> None:
        """Make what is missing; what exists (restored state) is kept, and each machine gets the
        definition as deployed now."""
        naming = self.config.naming
        s3 = self._client("s3")
        for bucket in (naming.staging_bucket, naming.archive_bucket):
            with _existing("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self._queues()
        self.notification()
        for key in MACHINES:
            self.create_machine(key)
        with _existing("ResourceInUseException"):
            self._claims_table()

    def _queues(self) -> None:
        sqs, naming = self._client("sqs"), self.config.naming
        dlq_url = sqs.create_queue(QueueName=f"{naming.queue_name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.deployment.queue_max_receive_count)}
        self.queue_url = sqs.create_queue(
            QueueName=naming.queue_name,
            Attributes={
                "VisibilityTimeout": str(self.deployment.queue_visibility_seconds()),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        self.dead_letter_queue_url = dlq_url

    def notification(self, intake: str = "s3") -> None:
        """Staging's ObjectCreated events to the intake queue: by the bucket's own notification
        (``s3``, the stack's bucket), or through EventBridge (``eventbridge``, as the stack takes
        them from an existing bucket: ``stagingBucketName``)."""
        s3, staging, queue = self._client("s3"), self.config.naming.staging_bucket, self.names.queue
        if intake == "s3":
            s3.put_bucket_notification_configuration(
                Bucket=staging,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {"Id": "filepipe-intake", "QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}
                    ]
                },
            )
            return
        s3.put_bucket_notification_configuration(
            Bucket=staging, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        events = self._client("events")
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [staging]}}}
        events.put_rule(Name=EVENTBRIDGE_RULE, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=EVENTBRIDGE_RULE, Targets=[{"Id": "intake", "Arn": queue}])

    def definition_values(self, key: str) -> dict[str, Any]:
        """Machine ``key``'s placeholders, as CDK fills them in AWS (``Deployment.definition_values``)."""
        return self.deployment.definition_values(key, self.names)

    def definition(self, key: str, **changed: str | int) -> str:
        """Machine ``key``'s definition as deployed here (``changed``: some placeholders otherwise)."""
        values = self.definition_values(key) | changed
        return json.dumps(state_machine.render(values, MACHINES[key].template()))

    def create_machine(self, key: str) -> None:
        spec, naming = MACHINES[key], self.config.naming
        options: dict[str, Any] = {}
        if spec.type == "EXPRESS":
            # Its log group is an Express execution's only history (the adapter writes it, at the
            # level executionLogs says).
            group = naming.log_group(key)
            with _existing("ResourceAlreadyExistsException"):
                self._client("logs").create_log_group(logGroupName=group)
            logging = self.config.deployment.machine_logging(key)
            options["loggingConfiguration"] = logging.logging_configuration(naming.arn("logs", f"log-group:{group}:*"))
        sfn = self._client("stepfunctions")
        try:
            sfn.create_state_machine(
                name=naming.machine_name(key),
                definition=self.definition(key),
                roleArn=naming.role_arn(spec.principal),
                type=spec.type,
                **options,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineAlreadyExists":
                raise
            sfn.update_state_machine(
                stateMachineArn=naming.machine_arn(key), definition=self.definition(key), **options
            )

    def kms_key(self) -> str:
        """The buckets' KMS key: the one restored state holds, or a new one."""
        kms = self._client("kms")
        for listed in kms.list_keys()["Keys"]:
            metadata = kms.describe_key(KeyId=listed["KeyId"])["KeyMetadata"]
            if metadata.get("Description") == KMS_KEY_DESCRIPTION:
                return str(metadata["Arn"])
        return str(kms.create_key(Description=KMS_KEY_DESCRIPTION)["KeyMetadata"]["Arn"])

    def encrypt(self, kms_key: str | None) -> None:
        """Both buckets' default encryption: SSE-KMS with ``kms_key``, or S3-managed (None)."""
        s3 = self._client("s3")
        rule: dict[str, Any] = {"SSEAlgorithm": "AES256"}
        if kms_key:
            rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
        for bucket in (self.config.naming.staging_bucket, self.config.naming.archive_bucket):
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]},
            )

    def _claims_table(self) -> None:
        dynamodb, table = self._client("dynamodb"), self.config.naming.claims_table
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "version", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "version", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )


@contextlib.contextmanager
def _existing(*codes: str) -> Iterator[None]:
    """Creating something that exists (restored state) is not an error."""
    try:
        yield
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in codes:
            raise
