"""The local cloud's identities: one IAM role per principal of the grants table, with exactly the
policy the stack deploys, sessions of those roles for the code that acts with them, and the
developer's own key.

Roles and sessions live in moto's IAM and STS backends, which the endpoint's enforcement
(``_moto_iam.py``) reads for every request. Sessions are made the way the AWS services make
them for their workloads (Lambda for a function, ECS for a job's task role, Step Functions for
its state machine): directly, trusted by the role's service principal, for an hour, and
refreshed before they end.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.credentials import Credentials, RefreshableCredentials
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from filepipe.grants import BATCH_SYNC_RULE, PRINCIPALS, Bucket, Named, Objects, Principal, Resource, without

DEVELOPER = "filepipe-developer"
DEVELOPER_KEY = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
"""The developer's key: the account's administrator (LocalStack's ``test``/``test``, so the AWS
CLI and SDKs work against the local cloud with the usual settings)."""
SESSION_SECONDS = 3600
REFRESH_BEFORE = timedelta(minutes=10)
"""botocore refreshes credentials 10 to 15 minutes before they end; sessions are made anew then."""
_POLICY_NAME = "filepipe"


@dataclass(frozen=True)
class LocalNames:
    """What the grants table's resources are called in the local cloud."""

    region: str
    account: str
    buckets: Mapping[str, str]
    prefixes: Mapping[str, str]
    state_machine_arn: str
    express_state_machine_arn: str
    map_machine_arns: Mapping[str, str]
    """The Distributed Map machines (``backfill``, ``reprocess``) by what they do."""
    claims_table_arn: str
    queue_arn: str
    function_arns: Mapping[str, str]
    job_queue_arn: str
    job_definition_arn: str

    def role_name(self, principal: str) -> str:
        return f"filepipe-{principal.replace('_', '-')}"

    def role_arn(self, principal: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name(principal)}"

    def arns(self, resource: Resource) -> list[str]:
        if isinstance(resource, Objects):
            return [f"arn:aws:s3:::{self.buckets[resource.bucket]}/{resource.prefix(self.prefixes)}*"]
        if isinstance(resource, Bucket):
            return [f"arn:aws:s3:::{self.buckets[resource.bucket]}"]
        return self._named(resource)

    def _named(self, resource: Named) -> list[str]:
        if resource.kind == "function":
            arn = self.function_arns[resource.name]
            return [arn, f"{arn}:*"]
        if resource.kind == "role":
            return [self.role_arn(resource.name)]
        if resource.kind == "kms_key":
            return []  # the local cloud's buckets use S3-managed keys
        machine = self.state_machine_arn
        arns = {
            "state_machine": machine,
            "executions": f"{machine.replace(':stateMachine:', ':execution:')}:*",
            "express_state_machine": self.express_state_machine_arn,
            **{f"{name}_state_machine": arn for name, arn in self.map_machine_arns.items()},
            **{
                f"{name}_map_executions": arn.replace(":stateMachine:", ":execution:") + "/*"
                for name, arn in self.map_machine_arns.items()
            },
            "claims_table": self.claims_table_arn,
            "queue": self.queue_arn,
            "job_queue": self.job_queue_arn,
            "job_definition": self.job_definition_arn,
            "jobs": f"arn:aws:batch:{self.region}:{self.account}:job/*",
            "batch_sync_rule": f"arn:aws:events:{self.region}:{self.account}:rule/{BATCH_SYNC_RULE}",
            "any": "*",
        }
        return [arns[resource.kind]]

    def policy(self, principal: Principal) -> dict[str, Any]:
        """The principal's identity policy, as the stack renders it."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(grant.actions), "Resource": arns}
                for grant in principal.grants
                if (arns := [arn for resource in grant.resources for arn in self.arns(resource)])
            ],
        }

    def trust(self, principal: Principal) -> dict[str, Any]:
        who = (
            {"Service": principal.assumed_by}
            if principal.trusts_service
            else {"AWS": self.role_arn(principal.assumed_by)}
        )
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": who, "Action": "sts:AssumeRole"}],
        }


@dataclass
class LocalIdentities:
    """Installs the roles and the developer in moto, and hands out sessions of the roles."""

    names: LocalNames
    table: Mapping[str, Principal] = field(default_factory=lambda: dict(PRINCIPALS))
    """The grants the roles get: the stack's (``filepipe/grants.py``) unless a test says otherwise."""
    principals: dict[str, Principal] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _renewing: list[RefreshableCredentials] = field(default_factory=list)

    @property
    def _iam(self) -> Any:
        return iam_backends[self.names.account]["aws"]

    def install(self) -> None:
        """Create (or bring back to the table) every role, and the developer with its key."""
        self.principals = dict(self.table)
        for principal in self.principals.values():
            self._install_role(principal)
        self._install_developer()

    def installed(self) -> bool:
        """False once something emptied moto's IAM (``mock_aws()`` ending in this process resets
        every backend): then every role and session must be made again."""
        return DEVELOPER in self._iam.users

    def reinstall(self) -> None:
        """Make the roles again, and make every renewing credential take a new session now."""
        self.install()
        for credentials in self._renewing:
            credentials._expiry_time = datetime.now(UTC)

    def _install_role(self, principal: Principal) -> None:
        name = self.names.role_name(principal.name)
        try:
            role = self._iam.get_role(name)
        except Exception:
            role = self._iam.create_role(
                role_name=name,
                assume_role_policy_document=json.dumps(self.names.trust(principal)),
                path="/",
                permissions_boundary=None,
                description=principal.description,
                tags=[],
                max_session_duration=str(principal.max_session_seconds),
            )
        role.assume_role_policy_document = json.dumps(self.names.trust(principal))
        policy = self.names.policy(principal)
        if policy["Statement"]:
            self._iam.put_role_policy(name, _POLICY_NAME, json.dumps(policy))
        elif _POLICY_NAME in role.policies:
            # No grant here (none left, or only the KMS key's, which the local cloud has not): no policy.
            self._iam.delete_role_policy(name, _POLICY_NAME)

    def _install_developer(self) -> None:
        if DEVELOPER in self._iam.users:
            return
        user = self._iam.create_user(self.names.region, DEVELOPER)
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        self._iam.put_user_policy(DEVELOPER, "administrator", json.dumps(everything))
        key = user.create_access_key(prefix="AKIA")
        key.access_key_id = DEVELOPER_KEY["AWS_ACCESS_KEY_ID"]
        key.secret_access_key = DEVELOPER_KEY["AWS_SECRET_ACCESS_KEY"]

    def revoke(self, principal: str, grant_index: int, action: str | None = None) -> None:
        """Remove one grant (or one action of it) from a role, as a stack missing it would."""
        with self._lock:
            self.principals[principal] = without(self.principals[principal], grant_index, action)
            self._install_role(self.principals[principal])

    def restore(self) -> None:
        """Every role back to the table (after :meth:`revoke`)."""
        with self._lock:
            self.principals = dict(self.table)
            for principal in self.principals.values():
                self._install_role(principal)

    def session(self, principal: str, seconds: int = SESSION_SECONDS) -> dict[str, Any]:
        """A new session of ``principal``'s role, as its service makes one: key, secret, token
        and expiry (UTC)."""
        assumed = sts_backends[self.names.account]["aws"].assume_role(
            region_name=self.names.region,
            role_session_name=f"{principal}-{uuid.uuid4().hex[:12]}",
            role_arn=self.names.role_arn(principal),
            policy=None,  # type: ignore[arg-type]
            duration=seconds,
            external_id=None,  # type: ignore[arg-type]
        )
        return {
            "access_key": assumed.access_key_id,
            "secret_key": assumed.secret_access_key,
            "token": assumed.session_token,
            "expiry_time": assumed.expiration.replace(tzinfo=UTC).isoformat(),
        }

    def environment(self, principal: str) -> tuple[dict[str, str], datetime]:
        """The variables Lambda gives a function's environment, and when they stop working."""
        session = self.session(principal)
        variables = {
            "AWS_ACCESS_KEY_ID": session["access_key"],
            "AWS_SECRET_ACCESS_KEY": session["secret_key"],
            "AWS_SESSION_TOKEN": session["token"],
        }
        return variables, datetime.fromisoformat(session["expiry_time"])

    def refreshable(self, principal: str) -> Credentials:
        """Credentials of ``principal``'s role that renew themselves (for long-lived clients)."""
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=self.session(principal),
            refresh_using=lambda: self.session(principal),
            method="filepipe-local-service",
        )
        self._renewing.append(credentials)
        return credentials

    def principal_of_role(self, role_arn: str) -> str | None:
        for name in self.principals:
            if self.names.role_arn(name) == role_arn:
                return name
        return None

    def role_credentials(self, role_arn: str) -> Credentials:
        """For the Step Functions engine: refreshable credentials of the role a task runs with."""
        principal = self.principal_of_role(role_arn)
        if principal is None:
            raise LookupError(f"no local role {role_arn}")
        return self.refreshable(principal)


def expires_soon(expiry: datetime, within: timedelta = REFRESH_BEFORE) -> bool:
    return expiry - datetime.now(UTC) < within
