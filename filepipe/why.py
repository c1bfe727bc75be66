"""What happened to my file: one answer from staging, the archive, the error records and the
executions (``filepipe why``).

A file is asked for by its key, by its file name (the last part of a key: the upload API's keys
are ``uploads/<date>/<id>/<name>``) or by the name of an execution that handled it. The answer
says where every version of the key is now, which executions handled it, why it failed (the
record's own message, with the row or value it names), whether a newer version resolved that,
and what to do next.

Example::

    for story in why(target, "cities.csv"):
        print(story.key, story.state, story.next_step)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from filepipe.errors import error_code
from filepipe.events import ObjectRef, execution_name, retry_name
from filepipe.moves import FailureRecord, Resolution, read_record
from filepipe.operations import ExecutionView, Target, describe, express_executions
from filepipe.storage import head

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SOURCE_VERSION = "filepipe-source-version"
"""The metadata naming the staging version an archived object came from."""
BAD_FILE_ERRORS = frozenset({"TransformRejected", "UploadRefused"})
"""Failures of the file itself: retrying the same bytes fails again."""
MAX_MATCHES = 5
"""Files shown for a file name many uploads share (newest first)."""
MAX_RETRIES_LOOKED_UP = 20


@dataclass(frozen=True)
class Place:
    """Where one version of the key is now."""

    area: str
    """``staging``, ``originals``, ``failed`` or ``superseded``."""
    key: str
    version_id: str | None
    """The staging version it is (its own version in staging; the source version elsewhere)."""
    modified: datetime | None = None


@dataclass
class Story:
    """Everything known about one key, newest first where there is an order."""

    key: str
    places: list[Place] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    """``(key, transform@version)`` of each current output."""
    executions: list[ExecutionView] = field(default_factory=list)
    failure: FailureRecord | None = None
    resolution: Resolution | None = None
    console: dict[str, str] = field(default_factory=dict)
    """Execution name -> its page in the Step Functions console (a deployed stack only)."""

    @property
    def state(self) -> str:
        """``processing``, ``failed``, ``archived``, ``resolved`` or ``unknown``."""
        if any(p.area == "staging" for p in self.places):
            return "processing"
        if self.failure is not None:
            return "failed"
        if any(p.area == "originals" for p in self.places):
            return "resolved" if self.resolution is not None else "archived"
        return "unknown"

    @property
    def next_step(self) -> str:
        state = self.state
        if state == "processing":
            running = [e for e in self.executions if e.status == "RUNNING"]
            if running:
                return f"wait: {running[0].name} is processing it"
            if any(e.error == "DeploymentError" for e in self.executions):
                return "a refused call stopped it: fix the stack's permission, then `filepipe redrive`"
            return (
                "no execution has it yet: its event may be on its way; if it stays, "
                f"`filepipe backfill --prefix '{self.key}'` starts it"
            )
        if state == "failed" and self.failure is not None:
            if self.failure.error in BAD_FILE_ERRORS:
                return (
                    "fix the file and upload it again under the same key (the failure then resolves); "
                    "retrying the same bytes fails again"
                )
            name = self.executions[0].name if self.executions else "<execution>"
            return f"once the cause has passed, retry it: `filepipe retry {name}` (or Redrive it in the console)"
        if state == "resolved" and self.resolution is not None:
            return f"nothing: a newer version ({self.resolution.by}) fixed the earlier failure"
        if state == "archived":
            return "nothing: it is archived"
        return "nothing of this key is in staging or the archive: check the key, or its bucket"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "state": self.state,
            "next": self.next_step,
            "places": [
                {
                    "area": p.area,
                    "key": p.key,
                    "versionId": p.version_id,
                    "modified": p.modified.isoformat() if p.modified else None,
                }
                for p in self.places
            ],
            "outputs": [{"key": k, "transform": t} for k, t in self.outputs],
            "executions": [
                {
                    "name": e.name,
                    "arn": e.arn,
                    "status": e.status,
                    "tier": e.tier,
                    "path": e.path,
                    "error": e.error,
                    "outcome": e.outcome,
                    "started": e.started.isoformat(),
                    "console": self.console.get(e.name),
                }
                for e in self.executions
            ],
            "failure": None
            if self.failure is None
            else {
                "error": self.failure.error,
                "reason": self.failure.message or str(self.failure.cause or ""),
                "attempts": self.failure.attempts,
                "versionId": self.failure.ref.version_id,
            },
            "resolvedBy": self.resolution.by if self.resolution else None,
        }


def why(target: Target, asked: str, console_region: str | None = None) -> list[Story]:
    """The story of each key ``asked`` names (a key, a file name or an execution name); empty when
    nothing matches. With ``console_region``, each execution gets its console link."""
    stories = [_story(target, key) for key in _keys_for(target, asked)]
    if console_region:
        for story in stories:
            story.console = {e.name: console_link(e.arn, console_region) for e in story.executions}
    return stories


def console_link(arn: str, region: str) -> str:
    """The execution's page in the Step Functions console."""
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"


def _keys_for(target: Target, asked: str) -> list[str]:
    asked = asked.strip()
    if asked.startswith("arn:") or _is_execution(target, asked):
        return [_execution_key(target, asked)]
    layout = target.layout
    if _exists(target.s3, target.staging_bucket, asked) or any(
        _exists(target.s3, target.archive_bucket, key)
        for key in (layout.original(asked), layout.failed_copy(asked), layout.error_record(asked))
    ):
        return [asked]
    named = [key for key, _ in _by_file_name(target, asked)]
    return named[:MAX_MATCHES]


def _is_execution(target: Target, name: str) -> bool:
    if "/" in name or "." in name:
        return False  # execution names are [A-Za-z0-9_-]
    try:
        target.sfn.describe_execution(executionArn=_execution_arn(target, name))
    except ClientError as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
            return False
        raise
    return True


def _execution_arn(target: Target, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return target.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name


def _execution_key(target: Target, asked: str) -> str:
    if ":express:" in asked:
        for view in express_executions(target):
            if view.arn == asked:
                return view.key
        raise LookupError(f"no Express execution {asked} of the last day in its logs, error records or claims")
    return describe(target, _execution_arn(target, asked)).key


def _by_file_name(target: Target, name: str) -> list[tuple[str, datetime]]:
    """Keys whose last part is ``name``, in staging, originals or failed, newest first."""
    found: dict[str, datetime] = {}
    layout = target.layout
    for bucket, prefix in (
        (target.staging_bucket, ""),
        (target.archive_bucket, layout.originals),
        (target.archive_bucket, layout.failed),
    ):
        pages = target.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(prefix) :]
                if key.rsplit("/", 1)[-1] == name:
                    found[key] = max(found.get(key, item["LastModified"]), item["LastModified"])
    return sorted(found.items(), key=lambda kv: kv[1], reverse=True)


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    return bool(key) and head(s3, Bucket=bucket, Key=key) is not None


def _story(target: Target, key: str) -> Story:
    s3, layout = target.s3, target.layout
    story = Story(key)
    listed = s3.list_object_versions(Bucket=target.staging_bucket, Prefix=key)
    for version in listed.get("Versions", []):
        if version["Key"] == key:
            story.places.append(Place("staging", key, version.get("VersionId"), version.get("LastModified")))
    for area, archived in (("originals", layout.original(key)), ("failed", layout.failed_copy(key))):
        found = head(s3, Bucket=target.archive_bucket, Key=archived)
        if found is not None:
            source = found.get("Metadata", {}).get(SOURCE_VERSION) or None
            story.places.append(Place(area, archived, source, found.get("LastModified")))
    superseded = layout.superseded_original(key, "")
    prefix = superseded[: -len("/original")]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.archive_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/original"):
                label = item["Key"][len(prefix) : -len("/original")]
                story.places.append(Place("superseded", item["Key"], label, item["LastModified"]))
    outputs = layout.output(key, "")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.archive_bucket, Prefix=outputs):
        for item in page.get("Contents", []):
            meta = (head(s3, Bucket=target.archive_bucket, Key=item["Key"]) or {}).get("Metadata", {})
            made_by = f"{meta.get('filepipe-transform', '?')}@{meta.get('filepipe-transform-version', '?')}"
            story.outputs.append((item["Key"], made_by))
    story.failure = read_record(s3, target.archive_bucket, layout.error_record(key))
    resolved = read_record(s3, target.archive_bucket, layout.resolved_record(key))
    story.resolution = resolved.resolved if resolved is not None else None
    story.executions = _executions(target, key, story)
    return story


def _executions(target: Target, key: str, story: Story) -> list[ExecutionView]:
    """The Standard executions named after each known version (and their retries), and the
    Express ones of the last day that handled the key (``express_executions``)."""
    versions = {p.version_id for p in story.places if p.version_id}
    if story.failure is not None and story.failure.ref.version_id:
        versions.add(story.failure.ref.version_id)
    views: dict[str, ExecutionView] = {}
    for version in versions:
        ref = ObjectRef(target.staging_bucket, key, version)
        names = [execution_name(ref)] + [retry_name(ref, n) for n in range(1, MAX_RETRIES_LOOKED_UP + 1)]
        for number, name in enumerate(names):
            try:
                views[name] = describe(target, _execution_arn(target, name))
            except ClientError as exc:
                if error_code(exc) != "ExecutionDoesNotExist":
                    raise
                if number > 0:
                    break  # retries are numbered from 1 without gaps
    for view in express_executions(target, key=key):
        views[view.arn] = view
    return sorted(views.values(), key=lambda v: v.started, reverse=True)
