"""The grants table's vocabulary: the resources a grant names, and how each renders its ARN.

A grant names resources, never spells them: ``Objects("archive", ("failed",))`` is the archive
bucket's objects under its failure prefix, ``Named(Kind.STATE_MACHINE, "express")`` the Express
machine, whatever a deployment calls them. A deployment hands in its :class:`Names` (CDK tokens
in the stack, strings in the local cloud) and every kind renders its ARNs from them here, in one
place: a new kind of resource is a member of :class:`Kind` and a line in :meth:`Kind.arns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from filepipe.config import ArchiveLayout

BucketName = Literal["staging", "archive"]
BATCH_SYNC_RULE = "StepFunctionsGetEventsForBatchJobsRule"
"""The EventBridge rule Step Functions manages to follow ``batch:submitJob.sync`` jobs."""

AREAS = (*ArchiveLayout.areas(), "uploads")
"""Prefix names a grant may use: the archive's areas, and staging's upload prefix. Each deployment
maps them to its own prefixes (:attr:`Names.prefixes`)."""


class Kind(Enum):
    """A kind of resource a grant names besides buckets and their objects. Each renders its own
    ARN from a deployment's :class:`Names` (:meth:`arns`): the stack's (tokens) and the local
    cloud's (strings) alike, so a new kind is added here and nowhere else."""

    KMS_KEY = "kms_key"
    """The buckets' SSE-KMS key; optional: a grant naming only it is left out where there is none."""
    STATE_MACHINE = "state_machine"
    """One of :data:`filepipe.deployment.MACHINES`, by key (``standard``, ``express``, ...)."""
    EXECUTIONS = "executions"
    """A Standard machine's executions (``...:execution:<machine>:*``)."""
    MAP_RUN_EXECUTIONS = "map_run_executions"
    """A machine's Distributed Map child executions (``...:execution:<machine>/*``)."""
    CLAIMS_TABLE = "claims_table"
    QUEUE = "queue"
    """The intake queue."""
    FUNCTION = "function"
    """A function, by its principal's name (and every version or alias of it)."""
    ROLE = "role"
    """A principal's role, by name."""
    JOB_QUEUE = "job_queue"
    JOB_DEFINITION = "job_definition"
    JOBS = "jobs"
    """Any Batch job: their IDs are made at submit time."""
    BATCH_SYNC_RULE = "batch_sync_rule"
    ANY = "any"
    """For actions with no resource-level permissions."""

    def arns(self, names: Names, name: str = "") -> list[str]:
        """The ARNs this kind (``name`` says which, where there are several) stands for."""
        if self is Kind.KMS_KEY:
            return [names.kms_key] if names.kms_key else []
        if self is Kind.FUNCTION:
            arn = names.need(names.functions, name, "function")
            return [arn, f"{arn}:*"]
        if self is Kind.ANY:
            return ["*"]
        arn = {
            Kind.STATE_MACHINE: lambda: names.machine_arn(name),
            Kind.EXECUTIONS: lambda: names.arn("states", f"execution:{names.machine_name(name)}:*"),
            Kind.MAP_RUN_EXECUTIONS: lambda: names.arn("states", f"execution:{names.machine_name(name)}/*"),
            Kind.CLAIMS_TABLE: lambda: _given(names.claims_table, "claims table"),
            Kind.QUEUE: lambda: _given(names.queue, "intake queue"),
            Kind.ROLE: lambda: names.need(names.roles, name, "role"),
            Kind.JOB_QUEUE: lambda: _given(names.job_queue, "job queue"),
            Kind.JOB_DEFINITION: lambda: _given(names.job_definition, "job definition"),
            Kind.JOBS: lambda: names.arn("batch", "job/*"),
            Kind.BATCH_SYNC_RULE: lambda: names.arn("events", f"rule/{BATCH_SYNC_RULE}"),
        }[self]()
        return [arn]


@dataclass(frozen=True)
class Names:
    """What a deployment calls the resources the table names: CDK tokens in the stack, plain
    strings in the local cloud. A construct that renders grants before every resource exists
    leaves the rest out; naming one of those is an error that says which."""

    partition: str
    region: str
    account: str
    buckets: Mapping[str, str]
    """``staging``/``archive`` -> bucket name."""
    bucket_arns: Mapping[str, str]
    prefixes: Mapping[str, str]
    """Area -> prefix (:data:`AREAS`)."""
    machines: Mapping[str, str] = field(default_factory=dict)
    """Machine key -> state machine name."""
    machine_arns: Mapping[str, str] = field(default_factory=dict)
    """Machine key -> ARN, where it is known other than from its name (a CDK reference)."""
    functions: Mapping[str, str] = field(default_factory=dict)
    """Principal -> function ARN."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """Principal -> role ARN."""
    claims_table: str | None = None
    queue: str | None = None
    job_queue: str | None = None
    job_definition: str | None = None
    kms_key: str | None = None

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def machine_name(self, key: str) -> str:
        return self.need(self.machines, key, "state machine")

    def machine_arn(self, key: str) -> str:
        if key in self.machine_arns:
            return self.machine_arns[key]
        return self.arn("states", f"stateMachine:{self.machine_name(key)}")

    def objects_arn(self, objects: Objects) -> str:
        return f"{self.need(self.bucket_arns, objects.bucket, 'bucket')}/{objects.prefix(self.prefixes)}*"

    def resource_arns(self, resource: Resource) -> list[str]:
        """The ARNs ``resource`` stands for in this deployment."""
        if isinstance(resource, Objects):
            return [self.objects_arn(resource)]
        if isinstance(resource, Bucket):
            return [self.need(self.bucket_arns, resource.bucket, "bucket")]
        return resource.kind.arns(self, resource.name)

    def statements(self, principal: Principal) -> list[tuple[tuple[str, ...], list[str]]]:
        """``principal``'s grants as (actions, resource ARNs), leaving out a grant whose only
        resource this deployment does not have (the KMS key)."""
        rendered = []
        for grant in principal.grants:
            arns = [arn for resource in grant.resources for arn in self.resource_arns(resource)]
            if arns:
                rendered.append((grant.actions, arns))
        return rendered

    @staticmethod
    def need(known: Mapping[str, str], name: str, what: str) -> str:
        return _given(known.get(name), f"{what} {name!r}")


def _given(value: str | None, what: str) -> str:
    if value is None:
        raise LookupError(f"a grant names the {what}, which these names do not include")
    return value


@dataclass(frozen=True)
class Objects:
    """The objects of one bucket under the concatenation of ``areas``' prefixes (none: all)."""

    bucket: BucketName
    areas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [area for area in self.areas if area not in AREAS]
        if unknown:
            raise ValueError(f"unknown areas {unknown}: an area is one of {AREAS}")

    def prefix(self, prefixes: Mapping[str, str]) -> str:
        return "".join(prefixes[area] for area in self.areas)


@dataclass(frozen=True)
class Bucket:
    """A bucket itself (listing it)."""

    bucket: BucketName


@dataclass(frozen=True)
class Named:
    """One of the pipeline's other resources: a :class:`Kind`, and which one where it matters."""

    kind: Kind
    name: str = ""


Resource = Objects | Bucket | Named


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[Resource, ...]


@dataclass(frozen=True)
class Principal:
    """A role, who may assume it (a service, or another principal of this table), and its grants."""

    name: str
    assumed_by: str
    description: str
    grants: tuple[Grant, ...]
    max_session_seconds: int = 3600
    """The longest session AssumeRole may ask for (IAM's MaxSessionDuration, 1 hour by default)."""

    @property
    def trusts_service(self) -> bool:
        return self.assumed_by.endswith(".amazonaws.com")
