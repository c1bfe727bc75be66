"""The local cloud: the whole pipeline on one machine, no AWS account.

An embedded endpoint (moto's server behind :class:`~filepipe.local.gateway.Gateway`) holds S3,
SQS and Step Functions; the state machine is ``state_machine/definition.asl.json`` with the same
placeholders CDK fills; its functions run the real handlers in warm execution environments (one
process each), its Batch task the real worker. Uploads flow as in AWS: S3 notification -> SQS ->
trigger -> StartExecution.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from moto.core.model_instances import reset_model_data
from moto.dynamodb.models import dynamodb_backends
from moto.events.models import events_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.s3.models import s3_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import stepfunctions_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

import state_machine
from filepipe.config import CORS_ALLOWED_ORIGINS, ArchiveLayout
from filepipe.grants import AREAS, PRINCIPALS, Principal
from filepipe.local import _moto_adapter
from filepipe.local.api import UploadApiRoute
from filepipe.local.authorizer import CognitoAuthorizer
from filepipe.local.batch import CREDENTIALS_PATH, LocalBatch
from filepipe.local.containers import choose_runner
from filepipe.local.gateway import Gateway
from filepipe.local.guard import FrontDoor, Guarded
from filepipe.local.iam import DEVELOPER_KEY, LocalIdentities, LocalNames
from filepipe.local.intake import QueuePoller
from filepipe.local.lambdas import LocalFunction, LocalLambda
from filepipe.storage import MiB
from filepipe.uploads import UploadConfig

_log = logging.getLogger(__name__)
UPLOAD_PREFIX = "uploads/"
EVENTBRIDGE_RULE = "filepipe-staging-object-created"
USER_POOL_NAME = "filepipe-uploads"
LOCAL_USER = ("developer", "Filepipe-local-1")
"""Who signs in to the local upload page (and ``filepipe upload --user``); ``up`` prints it."""

REGION = "us-east-1"
ACCOUNT = "123456789012"
CREDENTIALS = DEVELOPER_KEY
"""What the developer, the CLI and the tests sign with: the account's administrator."""
SERVICES_RESET: tuple[Any, ...] = (
    s3_backends,
    sqs_backends,
    stepfunctions_backends,
    stepfunctions_parser_backends,
    dynamodb_backends,
    logs_backends,
    events_backends,
)
"""What :meth:`LocalCloud.reset` empties; IAM and STS stay, so warm environments keep working."""

FUNCTIONS = {
    "trigger": LocalFunction("filepipe-trigger", "trigger_lambda.handler.handler", 256, 60, "trigger"),
    "transform": LocalFunction("filepipe-transform", "transform_lambda.handler.handler", 2048, 600, "transform"),
    "archive": LocalFunction("filepipe-archive", "moves_lambda.handler.archive_handler", 512, 900, "archive"),
    "failure": LocalFunction("filepipe-failure", "moves_lambda.handler.failure_handler", 512, 900, "failure"),
    "upload_api": LocalFunction("filepipe-upload-api", "upload_api.handler.handler", 512, 29, "upload_api"),
    "reprocess": LocalFunction("filepipe-reprocess", "moves_lambda.handler.reprocess_handler", 512, 900, "reprocess"),
}
"""The stack's functions, by the principal whose role each runs with (``filepipe/grants.py``)."""


@dataclass(frozen=True)
class LocalConfig:
    """What ``filepipe up`` takes on its command line; defaults match the stack's where they can."""

    host: str = "127.0.0.1"
    port: int = 4566
    staging_bucket: str = "filepipe-staging"
    archive_bucket: str = "filepipe-archive"
    large_file_threshold_bytes: int = 128 * MiB
    batch_task_timeout_seconds: int = 3600
    queue_visibility_timeout: int = 5
    """Seconds before a message the trigger reported as failed is delivered again."""
    max_receive_count: int = 5
    trigger_concurrency: int = 5
    """Trigger invocations at once (the stack's ``triggerMaxConcurrency``)."""
    function_concurrency: int = 4
    """Invocations at once (warm environments, one process each) of each workflow function."""
    runner: str = "auto"
    """How Batch jobs run: ``auto`` (a container when an engine and the image exist), ``container``
    or ``process``."""
    image: str = "localhost/filepipe-worker:latest"
    presign_max_bytes: int = 100 * MiB
    """Uploads up to this size get a presigned PUT from the upload API; larger ones multipart credentials."""
    upload_part_size: int = 16 * MiB
    state_machine_name: str = "filepipe"
    small_file_workflow: str = "standard"
    """Where files at or below the threshold run: ``standard`` or ``express`` (the stack's
    ``smallFileWorkflow``); both machines exist either way."""
    claims_table: str = "filepipe-claims"
    queue_name: str = "filepipe-intake"
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    grants: Mapping[str, Principal] = field(default_factory=lambda: dict(PRINCIPALS))
    """Each role's grants: the stack's. The tests' mutation control runs with one removed."""
    allowed_origins: tuple[str, ...] = CORS_ALLOWED_ORIGINS
    """Browser origins allowed besides the local cloud's own (the stack's ``corsAllowedOrigins``)."""
    idle_timeout_seconds: int = 15
    """How long a connection may sit idle (a body shorter than its Content-Length, a stalled
    client) before it is closed, so that it does not hold a server thread indefinitely."""


class LocalCloud:
    """Start with :meth:`start` (or ``with LocalCloud(...) as cloud:``); stop with :meth:`stop`."""

    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig()
        self.lambdas = LocalLambda(REGION, ACCOUNT)
        for role, function in FUNCTIONS.items():
            concurrency = self.config.trigger_concurrency if role == "trigger" else self.config.function_concurrency
            self.lambdas.add(function, concurrency)
        self.batch: LocalBatch | None = None
        self.gateway: Gateway | None = None
        self.guard: Guarded | None = None
        self._server: BaseWSGIServer | None = None
        self._poller: QueuePoller | None = None
        self._saved_moto_port: str | None = None
        self.port = self.config.port
        self.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.config.state_machine_name}"
        self.express_state_machine_arn = f"{self.state_machine_arn}-express"
        self.backfill_state_machine_arn = f"{self.state_machine_arn}-backfill"
        self.reprocess_state_machine_arn = f"{self.state_machine_arn}-reprocess"
        self.express_log_group = f"/aws/vendedlogs/states/{self.config.state_machine_name}-express-executions"
        self.claims_table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.config.claims_table}"
        self.queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.config.queue_name}"
        self.identities = LocalIdentities(self.names(), self.config.grants)
        self.queue_url = ""
        self.dead_letter_queue_url = ""
        self.user_pool_id = ""
        self.user_pool_client_id = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        _moto_adapter.apply()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.batch = LocalBatch(
            queue_arn=self.job_queue_arn,
            definition_arn=self.job_definition_arn,
            environment={},
            runner=choose_runner(self.config.runner, self.config.image),
        )
        self.gateway = Gateway(moto_app, self.lambdas, self.batch, ACCOUNT, REGION)
        self._upload_api = UploadApiRoute(self.lambdas, FUNCTIONS["upload_api"].name)
        self.gateway.routes.append(self._upload_api)
        if logging.getLogger().getEffectiveLevel() > logging.INFO:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server(
            self.config.host,
            self.config.port,
            self.gateway,
            threaded=True,
            request_handler=type(
                "RequestHandler", (WSGIRequestHandler,), {"timeout": self.config.idle_timeout_seconds}
            ),
        )
        self.port = self._server.server_port
        door = FrontDoor.for_endpoint(self.config.host, self.port, self.config.allowed_origins)
        self.guard = Guarded(self.gateway, door)
        self._server.app = self.guard
        threading.Thread(target=self._server.serve_forever, name="local-cloud", daemon=True).start()
        self._set_environment()
        self._act_as_roles()
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
        self.create_users()
        self.lambdas.environment = self.handler_environment() | self.aws_environment()
        self.batch.environment = self.worker_environment()
        self.create_resources()
        self._start_intake()
        return self

    def _start_intake(self) -> None:
        """The trigger's SQS event source mapping: pollers invoking it with batches."""
        self._poller = QueuePoller(
            self.role_client("trigger", "sqs", max_pool_connections=self.config.trigger_concurrency * 2),
            self.queue_url,
            self.queue_arn,
            self.lambdas,
            FUNCTIONS["trigger"].name,
            concurrency=self.config.trigger_concurrency,
        )
        self._poller.start()

    @contextlib.contextmanager
    def intake_paused(self) -> Iterator[None]:
        """The event source mapping disabled for a while: messages wait in the queue (a test takes
        one out, as a deleted message or a redrive gone wrong would)."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        try:
            yield
        finally:
            self._start_intake()

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port
        self.lambdas.close()
        _moto_adapter.act_as_roles(None)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty S3, SQS and Step Functions, bring every role back to the grants table, and
        create the pipeline's resources again (between tests)."""
        for backends in SERVICES_RESET:
            for account_backend in backends.values():
                account_backend.reset()
        reset_model_data()
        if not self.identities.installed():
            self.identities.reinstall()
            self.lambdas.retire()
        self.identities.restore()
        if self.batch is not None:
            self.batch.jobs.clear()
            self.batch.capacity = None
        self.lambdas.invocations.clear()
        self.lambdas.metrics.clear()
        self.lambdas.restore_configuration()
        if self.create_users():
            self.lambdas.environment = self.handler_environment() | self.aws_environment()
            self.lambdas.retire()
        self.create_resources()

    # -- names ----------------------------------------------------------------------------------

    @property
    def refusals(self) -> list[tuple[str, str]]:
        """The front door's latest refusals: (reason, path), oldest first."""
        return list(self.guard.refusals) if self.guard is not None else []

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def job_queue_arn(self) -> str:
        return f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/filepipe"

    @property
    def job_definition_arn(self) -> str:
        return f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/filepipe-worker:1"

    def names(self) -> LocalNames:
        """What the grants table's resources are called here."""
        layout = self.config.layout
        prefixes = {area: getattr(layout, area) for area in AREAS if area != "uploads"}
        return LocalNames(
            region=REGION,
            account=ACCOUNT,
            buckets={"staging": self.config.staging_bucket, "archive": self.config.archive_bucket},
            prefixes=prefixes | {"uploads": UPLOAD_PREFIX},
            state_machine_arn=self.state_machine_arn,
            express_state_machine_arn=self.express_state_machine_arn,
            map_machine_arns={
                "backfill": self.backfill_state_machine_arn,
                "reprocess": self.reprocess_state_machine_arn,
            },
            claims_table_arn=self.claims_table_arn,
            queue_arn=self.queue_arn,
            function_arns={role: self.lambdas.arn(function.name) for role, function in FUNCTIONS.items()},
            job_queue_arn=self.job_queue_arn,
            job_definition_arn=self.job_definition_arn,
        )

    def definition_values(self) -> dict[str, str | int]:
        """The definition's placeholders, as CDK fills them in AWS (stack/workflow.py)."""
        return {
            "Partition": "aws",
            "LargeFileThresholdBytes": self.config.large_file_threshold_bytes,
            "BatchTaskTimeoutSeconds": self.config.batch_task_timeout_seconds,
            "TransformFunctionArn": self.lambdas.arn(FUNCTIONS["transform"].name),
            "ArchiveFunctionArn": self.lambdas.arn(FUNCTIONS["archive"].name),
            "FailureFunctionArn": self.lambdas.arn(FUNCTIONS["failure"].name),
            "JobQueueArn": self.job_queue_arn,
            "JobDefinitionArn": self.job_definition_arn,
        }

    def express_definition_values(self) -> dict[str, str | int]:
        """The Express definition's placeholders, as CDK fills them (``state_machine.express_values``)."""
        return state_machine.express_values(self.definition_values(), self.state_machine_arn)

    def backfill_definition_values(self) -> dict[str, str | int]:
        """The backfill definition's placeholders (stack/backfill.py's substitutions)."""
        return {
            "Partition": "aws",
            "StagingBucket": self.config.staging_bucket,
            "ArchiveBucket": self.config.archive_bucket,
            "ManifestsPrefix": self.config.layout.manifests,
            "TriggerFunctionArn": self.lambdas.arn(FUNCTIONS["trigger"].name),
        }

    def reprocess_definition_values(self) -> dict[str, str | int]:
        """The reprocess definition's placeholders (stack/reprocess.py's substitutions)."""
        return {
            "Partition": "aws",
            "ArchiveBucket": self.config.archive_bucket,
            "OutputsPrefix": self.config.layout.outputs,
            "ReprocessFunctionArn": self.lambdas.arn(FUNCTIONS["reprocess"].name),
        }

    def redefine(self, **values: str | int) -> None:
        """Update the state machine with some placeholders changed, as a deploy with other context
        values would (``redefine(BatchTaskTimeoutSeconds=5)``); :meth:`reset` restores them."""
        definition = state_machine.render(self.definition_values() | values)
        self.client("stepfunctions").update_state_machine(
            stateMachineArn=self.state_machine_arn, definition=json.dumps(definition)
        )

    def use_small_file_workflow(self, kind: str) -> None:
        """Where the trigger sends small files from now on, as a deploy with another
        ``smallFileWorkflow`` would (``express`` or ``standard``); :meth:`reset` undoes it."""
        arn = self.express_state_machine_arn if kind == "express" else ""
        self.lambdas.update_environment(FUNCTIONS["trigger"].name, {"EXPRESS_STATE_MACHINE_ARN": arn})

    def handler_environment(self) -> dict[str, str]:
        """What the stack gives every function (stack/compute.py), plus the trigger's ARN."""
        layout = self.config.layout
        return {
            "STAGING_BUCKET": self.config.staging_bucket,
            "ARCHIVE_BUCKET": self.config.archive_bucket,
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "ORIGINALS_PREFIX": layout.originals,
            "OUTPUTS_PREFIX": layout.outputs,
            "FAILED_PREFIX": layout.failed,
            "ERRORS_PREFIX": layout.errors,
            "SUPERSEDED_PREFIX": layout.superseded,
            "GRANTS_PREFIX": layout.grants,
            "REPORTS_PREFIX": layout.reports,
            "RESOLVED_PREFIX": layout.resolved,
            "MANIFESTS_PREFIX": layout.manifests,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "EXPRESS_STATE_MACHINE_ARN": (
                self.express_state_machine_arn if self.config.small_file_workflow == "express" else ""
            ),
            "LARGE_FILE_THRESHOLD_BYTES": str(self.config.large_file_threshold_bytes),
            "CLAIMS_TABLE": self.config.claims_table,
            "EXPRESS_LOG_GROUP": self.express_log_group,
            "UPLOAD_ROLE_ARN": self.identities.names.role_arn("upload"),
            "PRESIGN_MAX_BYTES": str(self.config.presign_max_bytes),
            "UPLOAD_PREFIX": UPLOAD_PREFIX,
            "UPLOAD_PART_SIZE": str(self.config.upload_part_size),
            "MAX_UPLOAD_BYTES": str(UploadConfig.max_bytes),
            "UPLOAD_CONTENT_TYPES": ",".join(UploadConfig.content_types),
            "UPLOAD_AUTH": "cognito",
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": self.user_pool_client_id,
            "COGNITO_ENDPOINT": self.endpoint,
        }

    def worker_environment(self) -> dict[str, str]:
        """The job definition's environment, and how to reach this endpoint."""
        env = self.handler_environment()
        for name in list(env):
            if name in ("STATE_MACHINE_ARN", "LARGE_FILE_THRESHOLD_BYTES") or name.startswith(
                ("UPLOAD_", "PRESIGN_", "MAX_UPLOAD_", "USER_POOL_", "COGNITO_", "EXPRESS_STATE_")
            ):
                env.pop(name)
        return env | self.aws_environment()

    def aws_environment(self) -> dict[str, str]:
        """How code reaches this endpoint; its credentials are its role's, given separately."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this endpoint, signing as the developer (the administrator)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "max_attempts": 5}, **kwargs),
        )

    def role_client(self, principal: str, service: str, **kwargs: Any) -> Any:
        """A boto3 client signing as a session of ``principal``'s role (renewed as it ends)."""
        session = botocore.session.get_session()
        session._credentials = self.identities.refreshable(principal)
        return boto3.Session(botocore_session=session).client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, **kwargs),
        )

    # -- set-up ---------------------------------------------------------------------------------

    def _set_environment(self) -> None:
        """The Step Functions engine finds the endpoint through ``MOTO_PORT``."""
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)

    def _act_as_roles(self) -> None:
        """Every principal acts with its own role: functions, jobs, the state machine."""
        self.identities.install()
        self.lambdas.credentials = self.identities.environment
        assert self.batch is not None
        self.batch.credentials = lambda: task_credentials(self.identities.session("job"))
        self.batch.credentials_url = f"http://127.0.0.1:{self.port}{CREDENTIALS_PATH}"
        _moto_adapter.act_as_roles(self.identities.role_credentials)

    def create_users(self) -> bool:
        """The upload page's user pool, its public app client and a local user, as the stack's
        ``UploadUsers`` makes them (True when they had to be made, or made again)."""
        idp = self.client("cognito-idp")
        pools = idp.list_user_pools(MaxResults=60)["UserPools"]
        if any(pool["Id"] == self.user_pool_id for pool in pools):
            return False
        policy = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True}
        self.user_pool_id = idp.create_user_pool(
            PoolName=USER_POOL_NAME,
            Policies={"PasswordPolicy": policy | {"RequireSymbols": True}},
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
        self.user_pool_client_id = idp.create_user_pool_client(
            UserPoolId=self.user_pool_id,
            ClientName="upload-page",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        username, password = LOCAL_USER
        idp.admin_create_user(UserPoolId=self.user_pool_id, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True)
        self._upload_api.authorizer = CognitoAuthorizer(
            f"http://127.0.0.1:{self.port}", REGION, self.user_pool_id, self.user_pool_client_id
        )
        return True

    def create_resources_notification(self, intake: str = "s3") -> None:
        """Staging's ObjectCreated events to the intake queue: by the bucket's own notification
        (``s3``, the stack's bucket), or through EventBridge (``eventbridge``, as the stack takes
        them from an existing bucket: ``stagingBucketName``)."""
        s3 = self.client("s3")
        if intake == "s3":
            s3.put_bucket_notification_configuration(
                Bucket=self.config.staging_bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {"Id": "filepipe-intake", "QueueArn": self.queue_arn, "Events": ["s3:ObjectCreated:*"]}
                    ]
                },
            )
            return
        s3.put_bucket_notification_configuration(
            Bucket=self.config.staging_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        events = self.client("events")
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [self.config.staging_bucket]}},
        }
        events.put_rule(Name=EVENTBRIDGE_RULE, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=EVENTBRIDGE_RULE, Targets=[{"Id": "intake", "Arn": self.queue_arn}])

    def create_resources(self) -> None:
        """Buckets, queues, notification and state machine, as the stack has them."""
        config = self.config
        s3, sqs, sfn = self.client("s3"), self.client("sqs"), self.client("stepfunctions")
        for bucket in (config.staging_bucket, config.archive_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        dlq_url = sqs.create_queue(QueueName=f"{config.queue_name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(config.max_receive_count)}
        self.queue_url = sqs.create_queue(
            QueueName=config.queue_name,
            Attributes={
                "VisibilityTimeout": str(config.queue_visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        self.dead_letter_queue_url = dlq_url
        self.create_resources_notification()
        definition = state_machine.render(self.definition_values())
        sfn.create_state_machine(
            name=config.state_machine_name,
            definition=json.dumps(definition),
            roleArn=self.identities.names.role_arn("state_machine"),
            type="STANDARD",
        )
        logs = self.client("logs")
        logs.create_log_group(logGroupName=self.express_log_group)
        express = state_machine.render(self.express_definition_values(), state_machine.express_template())
        sfn.create_state_machine(
            name=self.express_state_machine_arn.rsplit(":", 1)[1],
            definition=json.dumps(express),
            roleArn=self.identities.names.role_arn("express_state_machine"),
            type="EXPRESS",
            loggingConfiguration={
                "level": "ALL",
                "includeExecutionData": True,
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self.express_log_group}:*"
                        }
                    }
                ],
            },
        )
        for machine, arn, values, template in (
            (
                "backfill",
                self.backfill_state_machine_arn,
                self.backfill_definition_values(),
                state_machine.backfill_template(),
            ),
            (
                "reprocess",
                self.reprocess_state_machine_arn,
                self.reprocess_definition_values(),
                state_machine.reprocess_template(),
            ),
        ):
            sfn.create_state_machine(
                name=arn.rsplit(":", 1)[1],
                definition=json.dumps(state_machine.render(values, template)),
                roleArn=self.identities.names.role_arn(f"{machine}_state_machine"),
                type="STANDARD",
            )
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=config.claims_table,
            AttributeDefinitions=[{"AttributeName": "version", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "version", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=config.claims_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )


def task_credentials(session: dict[str, Any]) -> dict[str, str]:
    """A session as the container credentials endpoint answers it (botocore's ContainerProvider)."""
    return {
        "AccessKeyId": session["access_key"],
        "SecretAccessKey": session["secret_key"],
        "Token": session["token"],
        "Expiration": session["expiry_time"],
    }
