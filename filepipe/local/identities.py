"""The local cloud's identities: one IAM role per principal of the grants table, with exactly the
policy the stack deploys, sessions of those roles for the code that acts with them, and the
developer's own key.

Roles and sessions live in moto's IAM and STS backends, which the endpoint's enforcement
(``adapter/iam.py``) reads for every request. Sessions are made the way the AWS services make
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

from filepipe.grants import PRINCIPALS, Names, Principal, without
from filepipe.local.config import ACCOUNT, CREDENTIALS, LOCAL_USER, REGION, LocalNaming

DEVELOPER = "filepipe-developer"
SESSION_SECONDS = 3600
REFRESH_BEFORE = timedelta(minutes=10)
"""botocore refreshes credentials 10 to 15 minutes before they end; sessions are made anew then."""
_POLICY_NAME = "filepipe"


def policy(names: Names, principal: Principal) -> dict[str, Any]:
    """The principal's identity policy, as the stack renders it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": list(actions), "Resource": arns}
            for actions, arns in names.statements(principal)
        ],
    }


def trust(naming: LocalNaming, principal: Principal) -> dict[str, Any]:
    """Who may assume the principal's role: its service, or the role the table names."""
    who = (
        {"Service": principal.assumed_by}
        if principal.trusts_service
        else {"AWS": naming.role_arn(principal.assumed_by)}
    )
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": who, "Action": "sts:AssumeRole"}]}


@dataclass
class LocalIdentities:
    """Installs the roles and the developer in moto, and hands out sessions of the roles."""

    naming: LocalNaming
    names: Names
    table: Mapping[str, Principal] = field(default_factory=lambda: dict(PRINCIPALS))
    """The grants the roles get: the stack's (``filepipe/grants.py``) unless a test says otherwise."""
    principals: dict[str, Principal] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _renewing: list[RefreshableCredentials] = field(default_factory=list)

    @property
    def _iam(self) -> Any:
        return iam_backends[ACCOUNT]["aws"]

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
            credentials._expiry_time = datetime.now(UTC)  # type: ignore[attr-defined]  # no public way to expire

    def _install_role(self, principal: Principal) -> None:
        name = self.naming.role_name(principal.name)
        try:
            role = self._iam.get_role(name)
        except Exception:
            role = self._iam.create_role(
                role_name=name,
                assume_role_policy_document=json.dumps(trust(self.naming, principal)),
                path="/",
                permissions_boundary=None,
                description=principal.description,
                tags=[],
                max_session_duration=str(principal.max_session_seconds),
            )
        role.assume_role_policy_document = json.dumps(trust(self.naming, principal))
        document = policy(self.names, principal)
        if document["Statement"]:
            self._iam.put_role_policy(name, _POLICY_NAME, json.dumps(document))
        elif _POLICY_NAME in role.policies:
            # No grant here (none left, or only the KMS key's, which the local cloud has not): no policy.
            self._iam.delete_role_policy(name, _POLICY_NAME)

    def _install_developer(self) -> None:
        if DEVELOPER in self._iam.users:
            return
        user = self._iam.create_user(REGION, DEVELOPER)
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        self._iam.put_user_policy(DEVELOPER, "administrator", json.dumps(everything))
        key = user.create_access_key(prefix="AKIA")
        key.access_key_id = CREDENTIALS["AWS_ACCESS_KEY_ID"]
        key.secret_access_key = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]

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

    def task_credentials(self, principal: str) -> dict[str, str]:
        """A new session as the container credentials endpoint answers it (botocore's
        ContainerProvider)."""
        session = self.session(principal)
        return {
            "AccessKeyId": session["access_key"],
            "SecretAccessKey": session["secret_key"],
            "Token": session["token"],
            "Expiration": session["expiry_time"],
        }

    def session(self, principal: str, seconds: int = SESSION_SECONDS) -> dict[str, Any]:
        """A new session of ``principal``'s role, as its service makes one: key, secret, token
        and expiry (UTC)."""
        assumed = sts_backends[ACCOUNT]["aws"].assume_role(
            region_name=REGION,
            role_session_name=f"{principal}-{uuid.uuid4().hex[:12]}",
            role_arn=self.naming.role_arn(principal),
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
            if self.naming.role_arn(name) == role_arn:
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


USER_POOL_NAME = "filepipe-uploads"


@dataclass
class LocalUsers:
    """The upload page's user pool, its public app client and the local user, as the stack's
    ``UploadUsers`` makes them."""

    pool_id: str = ""
    client_id: str = ""

    def environment(self) -> dict[str, str]:
        """What the upload API reads to check its callers (``Deployment.function_environment``)."""
        return {"USER_POOL_ID": self.pool_id, "USER_POOL_CLIENT_ID": self.client_id}

    def ensure(self, idp: Any) -> bool:
        """Make them unless they exist (True when they had to be made, made again, or were found
        in restored state)."""
        pools = idp.list_user_pools(MaxResults=60)["UserPools"]
        if any(pool["Id"] == self.pool_id for pool in pools):
            return False
        restored = next((pool["Id"] for pool in pools if pool["Name"] == USER_POOL_NAME), None)
        if restored is not None:
            clients = idp.list_user_pool_clients(UserPoolId=restored, MaxResults=60)["UserPoolClients"]
            self.pool_id, self.client_id = restored, clients[0]["ClientId"]
            return True
        policy = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True}
        self.pool_id = idp.create_user_pool(
            PoolName=USER_POOL_NAME,
            Policies={"PasswordPolicy": policy | {"RequireSymbols": True}},
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="upload-page",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        username, password = LOCAL_USER
        idp.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)
        return True
