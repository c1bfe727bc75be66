"""The local cloud: the whole pipeline on one machine, no AWS account.

An embedded endpoint (moto's server behind :class:`~filepipe.local.gateway.Gateway`) holds S3,
SQS and Step Functions; the state machines are the ASL files with the same placeholders CDK
fills (``filepipe/deployment.py`` says what each holds); the functions run the real handlers in
warm execution environments (one process each), the Batch task the real worker. Uploads flow as
in AWS: S3 notification -> SQS -> trigger -> StartExecution.

This module is the lifecycle: start, reset, stop. What it runs is made by ``resources.py``, who
acts by ``identities.py``, and the engines are ``lambdas.py``, ``batch.py`` and ``intake.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
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
from werkzeug.serving import BaseWSGIServer

from batch_image.sources import sources_digest
from filepipe.deployment import Resources
from filepipe.execution_logs import EXECUTION_LOGS
from filepipe.local import adapter, state
from filepipe.local.api import PREFIXES, UploadApiRoute
from filepipe.local.authorizer import CognitoAuthorizer
from filepipe.local.batch import CREDENTIALS_PATH, LocalBatch, Runner
from filepipe.local.config import ACCOUNT, CREDENTIALS, REGION, LocalConfig
from filepipe.local.containers import ContainerRunner, ImageOfSources, choose_runner
from filepipe.local.gateway import Gateway
from filepipe.local.guard import FrontDoor, Guarded
from filepipe.local.identities import LocalIdentities, LocalUsers
from filepipe.local.intake import QueuePoller
from filepipe.local.lambdas import LocalFunction, LocalLambda
from filepipe.local.processes import REPOSITORY_ROOT
from filepipe.local.reload import SourceWatcher
from filepipe.local.resources import LocalResources
from filepipe.local.server import local_server

_log = logging.getLogger(__name__)
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
WORKER_ONLY = ("COGNITO_ENDPOINT",)
CREDENTIALS_ARGUMENTS = {
    "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
}
INTERRUPTED_CAUSE = "the local cloud stopped while it ran; filepipe retry (or Redrive) runs its file again"


class LocalCloud:
    """Start with :meth:`start` (or ``with LocalCloud(...) as cloud:``); stop with :meth:`stop`."""

    def __init__(self, config: LocalConfig | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.config = config or LocalConfig()
        self.notify = notify or _log.warning
        """Where one-line notices go (a code reload, a job that fell back to a subprocess)."""
        naming = self.config.naming
        self.naming = naming
        self.names = naming.names(self.config.deployment)
        self.functions = {
            principal: LocalFunction(
                naming.function_name(principal), spec.handler, spec.memory_mb, spec.timeout_seconds, principal
            )
            for principal, spec in self.config.deployment.functions().items()
        }
        self.lambdas = LocalLambda(REGION, ACCOUNT)
        for principal, function in self.functions.items():
            trigger = principal == "trigger"
            self.lambdas.add(
                function,
                self.config.deployment.trigger_max_concurrency if trigger else self.config.function_concurrency,
            )
        self.identities = LocalIdentities(naming, self.names, self.config.grants)
        self.users = LocalUsers()
        self.resources = LocalResources(self.config, self.names, self.client)
        self.batch: LocalBatch | None = None
        self.gateway: Gateway | None = None
        self.guard: Guarded | None = None
        self._server: BaseWSGIServer | None = None
        self._poller: QueuePoller | None = None
        self._saved_moto_port: str | None = None
        self._kms_key_arn: str | None = None
        self._watcher: SourceWatcher | None = None
        self.restored = False
        """Whether :meth:`start` found saved state in ``config.state_dir`` and put it back."""
        self.port = self.config.port

    # -- names ----------------------------------------------------------------------------------

    @property
    def state_machine_arn(self) -> str:
        return self.naming.machine_arn("standard")

    @property
    def express_state_machine_arn(self) -> str:
        return self.naming.machine_arn("express")

    @property
    def backfill_state_machine_arn(self) -> str:
        return self.naming.machine_arn("backfill")

    @property
    def reprocess_state_machine_arn(self) -> str:
        return self.naming.machine_arn("reprocess")

    @property
    def express_log_group(self) -> str:
        return self.naming.log_group("express")

    @property
    def job_queue_arn(self) -> str:
        return self.naming.job_queue_arn

    @property
    def job_definition_arn(self) -> str:
        return self.naming.job_definition_arn

    @property
    def queue_url(self) -> str:
        return self.resources.queue_url

    @property
    def dead_letter_queue_url(self) -> str:
        return self.resources.dead_letter_queue_url

    @property
    def user_pool_client_id(self) -> str:
        return self.users.client_id

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def refusals(self) -> list[tuple[str, str]]:
        """The front door's latest refusals: (reason, path), oldest first."""
        return list(self.guard.refusals) if self.guard is not None else []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        adapter.apply()
        if self.config.state_dir is not None:
            self.restored = state.load(self.config.state_dir)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.batch = LocalBatch(
            queue_arn=self.job_queue_arn,
            definition_arn=self.job_definition_arn,
            environment={},
            runner=self._batch_runner(),
            vcpus=self.config.deployment.batch_vcpus,
            memory_mib=self.config.deployment.batch_memory_mb,
        )
        self.gateway = Gateway(moto_app, self.lambdas, self.batch, ACCOUNT, REGION)
        self._upload_api = UploadApiRoute(self.lambdas, self.functions["upload_api"].name)
        self.gateway.routes.append(self._upload_api)
        if logging.getLogger().getEffectiveLevel() > logging.INFO:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = local_server(
            self.config.host,
            self.config.port,
            self.gateway,
            idle_seconds=self.config.idle_timeout_seconds,
            request_seconds=self.config.request_timeout_seconds,
        )
        self.port = self._server.server_port
        door = FrontDoor.for_endpoint(self.config.host, self.port, self.config.allowed_origins, app_paths=PREFIXES)
        self.guard = Guarded(self.gateway, door)
        self._server.app = self.guard
        threading.Thread(target=self._server.serve_forever, name="local-cloud", daemon=True).start()
        # The Step Functions engine finds the endpoint through MOTO_PORT.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._act_as_roles()
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
        self._create_users()
        self._configure_engines()
        self.resources.create()
        self.use_kms(self.config.kms)
        if self.restored:
            interrupted = adapter.abort_interrupted_executions(INTERRUPTED_CAUSE)
            if interrupted:
                self.notify(f"{len(interrupted)} execution(s) running when it stopped ended ABORTED: filepipe retry")
        self._start_intake()
        if self.config.reload:
            self._watcher = SourceWatcher(REPOSITORY_ROOT, self.reload_sources).start()
        return self

    def _batch_runner(self) -> Runner:
        """As ``--runner`` says; under code reload, the image that follows the sources."""
        sources = sources_digest()
        runner = choose_runner(self.config.runner, self.config.image, sources)
        if self.config.reload and self.config.image is None and isinstance(runner, ContainerRunner):
            return ImageOfSources(runner.engine, sources, self.notify)
        return runner

    def reload_sources(self, changed: list[str]) -> None:
        """New invocations and jobs run the sources as they are now (``reload.py``)."""
        self.lambdas.retire()
        if self.batch is not None and isinstance(self.batch.runner, ImageOfSources):
            self.batch.runner.sources_changed(sources_digest())
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        self.notify(f"reloaded {shown}: new invocations and Batch jobs run the new code")

    def _act_as_roles(self) -> None:
        """Every principal acts with its own role: functions, jobs, the state machine."""
        self.identities.install()
        self.lambdas.credentials = self.identities.environment
        assert self.batch is not None
        self.batch.credentials = lambda: self.identities.task_credentials("job")
        self.batch.credentials_url = f"http://127.0.0.1:{self.port}{CREDENTIALS_PATH}"
        adapter.act_as_roles(self.identities.role_credentials)
        adapter.gate_invocations(self.lambdas.waiting_room)

    def _create_users(self) -> bool:
        if not self.users.ensure(self.client("cognito-idp")):
            return False
        self._upload_api.authorizer = CognitoAuthorizer(
            f"http://127.0.0.1:{self.port}", REGION, self.users.pool_id, self.users.client_id
        )
        return True

    def _configure_engines(self) -> None:
        """Each function's environment as the stack gives it, and the worker's."""
        for principal, function in self.functions.items():
            self.lambdas.configure(function.name, self.function_environment(principal))
        assert self.batch is not None
        self.batch.environment = self.worker_environment()

    def _start_intake(self) -> None:
        """The trigger's SQS event source mapping: pollers invoking it with batches."""
        concurrency = self.config.deployment.trigger_max_concurrency
        self._poller = QueuePoller(
            self.role_client("trigger", "sqs", max_pool_connections=concurrency * 2),
            self.queue_url,
            self.names.queue or "",
            self.lambdas,
            self.functions["trigger"].name,
            concurrency=concurrency,
            retry_after_seconds=self.config.retry_after_seconds,
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
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
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
        adapter.act_as_roles(None)
        adapter.gate_invocations(None)
        if self.config.state_dir is not None:
            state.save(self.config.state_dir)

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
        if self._create_users():
            self._configure_engines()
            self.lambdas.retire()
        self.resources.create()
        self.use_kms(self.config.kms)

    # -- as a deploy with other settings would ------------------------------------------------------

    def redefine(self, **values: str | int) -> None:
        """Update the Standard machine with some placeholders changed, as a deploy with other
        context values would (``redefine(BatchTaskTimeoutSeconds=5)``); :meth:`reset` restores it."""
        self.client("stepfunctions").update_state_machine(
            stateMachineArn=self.state_machine_arn, definition=self.resources.definition("standard", **values)
        )

    def use_kms(self, enabled: bool = True) -> None:
        """Buckets under a KMS key and every role granted it, as a deploy with ``kmsKeyArn`` has
        them (False: S3-managed keys, no KMS grant); :meth:`reset` returns to the configuration's."""
        key = self._kms_key() if enabled else None
        if key != self.names.kms_key:
            self.names = replace(self.names, kms_key=key)
            self.identities.names = self.resources.names = self.names
            self.identities.restore()
            self._configure_engines()
            self.lambdas.retire()
        self.resources.encrypt(key)

    def _kms_key(self) -> str:
        """The local cloud's key (it outlives resets, as a key outlives a stack)."""
        if self._kms_key_arn is None:
            self._kms_key_arn = self.resources.kms_key()
        return self._kms_key_arn

    def use_small_file_workflow(self, kind: str) -> None:
        """Where the trigger sends small files from now on, as a deploy with another
        ``smallFileWorkflow`` would (``express`` or ``standard``); :meth:`reset` undoes it."""
        arn = self.express_state_machine_arn if kind == "express" else ""
        self.lambdas.update_environment(self.functions["trigger"].name, {"EXPRESS_STATE_MACHINE_ARN": arn})

    def use_execution_logs(self, setting: str) -> None:
        """What the Express machine logs and the functions' log level from now on, as a deploy with
        another ``executionLogs`` would (``errors`` or ``all``); :meth:`reset` undoes it."""
        level = EXECUTION_LOGS[setting]
        group = self.naming.arn("logs", f"log-group:{self.express_log_group}:*")
        self.client("stepfunctions").update_state_machine(
            stateMachineArn=self.express_state_machine_arn, loggingConfiguration=level.logging_configuration(group)
        )
        for function in self.functions.values():
            self.lambdas.update_environment(function.name, {"POWERTOOLS_LOG_LEVEL": level.function_log_level})

    # -- environments and clients -----------------------------------------------------------------

    def _resources(self) -> Resources:
        return Resources(
            names=self.names,
            claims_table_name=self.naming.claims_table,
            express_log_group=self.express_log_group,
            log_level=os.environ.get("POWERTOOLS_LOG_LEVEL"),
            upload_auth_environment=self.users.environment() | {"COGNITO_ENDPOINT": self.endpoint},
        )

    def function_environment(self, principal: str) -> dict[str, str]:
        """What the stack gives ``principal``'s function, and how to reach this endpoint."""
        return self.config.deployment.function_environment(principal, self._resources()) | self.aws_environment()

    def handler_environment(self) -> dict[str, str]:
        """What the stack gives every function (``Deployment.handler_environment``)."""
        return self.config.deployment.handler_environment(self._resources())

    def worker_environment(self) -> dict[str, str]:
        """The job definition's environment, and how to reach this endpoint."""
        return self.handler_environment() | self.aws_environment()

    def aws_environment(self) -> dict[str, str]:
        """How code reaches this endpoint; its credentials are its role's, given separately."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this endpoint, signing as the developer (the administrator)."""
        factory: Any = boto3  # its default session: service models loaded once
        return self._client_of(factory, service, kwargs, CREDENTIALS_ARGUMENTS)

    def role_client(self, principal: str, service: str, **kwargs: Any) -> Any:
        """A boto3 client signing as a session of ``principal``'s role (renewed as it ends)."""
        session = botocore.session.get_session()
        session._credentials = self.identities.refreshable(principal)  # type: ignore[attr-defined]  # no setter
        return self._client_of(boto3.Session(botocore_session=session), service, kwargs, {})

    def _client_of(self, factory: Any, service: str, options: dict[str, Any], keys: dict[str, str]) -> Any:
        """A client of any service, by name, for this endpoint."""
        config = Config(retries={"mode": "standard", "max_attempts": 5}, **options)
        return factory.client(service, endpoint_url=self.endpoint, region_name=REGION, config=config, **keys)
