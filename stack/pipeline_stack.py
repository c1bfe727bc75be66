"""The one stack: buckets, compute, workflow, intake and monitoring, composed."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from filepipe.deployment import MACHINES, Deployment
from filepipe.grants import PRINCIPALS
from stack import permissions as perm
from stack.backfill import Backfill
from stack.buckets import Buckets
from stack.claims import ClaimsTable
from stack.compute import Compute
from stack.intake import Intake
from stack.monitoring import Monitoring
from stack.nag import acknowledge_findings
from stack.names import StackNames
from stack.reprocess import Reprocess
from stack.upload_api import UploadApi
from stack.workflow import Workflow


class FilepipeStack(Stack):
    """Everything ``cdk deploy`` creates. Its outputs are what the ``filepipe`` CLI reads."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: Deployment, user_pool: bool = True, **kwargs: Any
    ) -> None:
        """``user_pool``: false where the target partition offers no Cognito (``app.py`` decides)."""
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.buckets = Buckets(
            self,
            "Buckets",
            cors_allowed_origins=list(config.cors_allowed_origins),
            noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
            archive_prefixes=config.area_prefixes(),
            archive_noncurrent_version_expiration_days=config.archive_noncurrent_version_expiration_days,
            failure_history_days=config.failure_history_days,
            destroy_on_removal=config.removal_policy_destroy,
            existing_staging=config.staging_bucket_name,
            existing_archive=config.archive_bucket_name,
        )
        self.claims = ClaimsTable(self, "Claims", destroy_on_removal=config.removal_policy_destroy)
        self.registry = StackNames(
            self,
            config,
            self.buckets,
            self.claims.table,
            kms_key=kms.Key.from_key_arn(self, "BucketKey", config.kms_key_arn) if config.kms_key_arn else None,
        )
        self.compute = Compute(self, "Compute", registry=self.registry)
        self.workflow = Workflow(self, "Workflow", registry=self.registry)
        self.intake = Intake(self, "Intake", compute=self.compute, registry=self.registry)
        self.backfill = Backfill(self, "Backfill", registry=self.registry)
        self.reprocess = Reprocess(self, "Reprocess", compute=self.compute, registry=self.registry)
        self.upload_api = UploadApi(
            self, "UploadApi", compute=self.compute, registry=self.registry, user_pool=user_pool
        )
        self._grant()
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            state_machine=self.workflow.state_machine,
            express_state_machine=self.workflow.express_state_machine,
            intake_queue=self.intake.queue,
            dead_letter_queue=self.intake.dead_letter_queue,
            functions={
                "Trigger": self.intake.trigger_function,
                "Transform": self.compute.transform_function,
                "Archive": self.compute.archive_function,
                "Failure": self.compute.failure_function,
                "UploadApi": self.upload_api.function,
                "Reprocess": self.reprocess.function,
            },
            alarm_topic_arn=config.alarm_topic_arn,
            backfill_state_machine=self.backfill.state_machine,
            reprocess_state_machine=self.reprocess.state_machine,
        )
        self._outputs()
        acknowledge_findings(
            self,
            machine_roles={key: self.registry.roles[spec.principal] for key, spec in MACHINES.items()},
            functions=self.registry.functions,
            job_execution_role=self.compute.node.find_child("JobExecutionRole"),
        )

    def _grant(self) -> None:
        """Every role gets its grants from the table, now that every resource it names exists."""
        roles = self.registry.roles
        missing = set(PRINCIPALS) - set(roles)
        assert not missing, f"no role was made for {sorted(missing)}"
        names = self.registry.names()
        buckets = {"staging": self.buckets.staging, "archive": self.buckets.archive}
        for principal, role in roles.items():
            perm.apply(role, principal, names, buckets)

    def _outputs(self) -> None:
        outputs = {
            "StagingBucketName": self.buckets.staging.bucket_name,
            "ArchiveBucketName": self.buckets.archive.bucket_name,
            "IntakeQueueUrl": self.intake.queue.queue_url,
            "DeadLetterQueueUrl": self.intake.dead_letter_queue.queue_url,
            "StateMachineArn": self.workflow.state_machine.state_machine_arn,
            "ExpressStateMachineArn": self.workflow.express_state_machine.state_machine_arn,
            "ExpressLogGroupName": self.workflow.express_log_group.log_group_name,
            "ClaimsTableName": self.claims.table.table_name,
            "BackfillStateMachineArn": self.backfill.state_machine.state_machine_arn,
            "ReprocessStateMachineArn": self.reprocess.state_machine.state_machine_arn,
            "SmallFileWorkflow": self.config.small_file_workflow,
            "JobQueueArn": self.compute.job_queue.job_queue_arn,
            "UploadApiUrl": self.upload_api.api.api_endpoint,
            "UploadPageUrl": f"{self.upload_api.api.api_endpoint}/ui/",
            **self.config.layout.to_outputs(),
        }
        if self.upload_api.users is not None:
            outputs["UserPoolId"] = self.upload_api.users.user_pool.user_pool_id
            outputs["UserPoolClientId"] = self.upload_api.users.page_client.user_pool_client_id
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
