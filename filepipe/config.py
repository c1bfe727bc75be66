"""Runtime settings of the handlers and the worker, read from their environment.

The stack (``stack/``) and the local cloud (``filepipe.local``) set the same variables, so code
never needs to know where it runs. Only entrypoints call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from filepipe.storage import MAX_SINGLE_COPY, MiB

MAX_KEY_BYTES = 1024
"""S3's limit on a key's UTF-8 length."""
CORS_ALLOWED_ORIGINS = ("http://localhost:4566",)
"""Origins a browser may upload into staging from, by default (the stack's ``corsAllowedOrigins``;
the local cloud allows them too)."""


@dataclass(frozen=True)
class ArchiveLayout:
    """Where things go in the archive bucket. Nothing here can re-trigger the pipeline: the
    archive bucket sends no notifications."""

    originals: str = "originals/"
    outputs: str = "outputs/"
    failed: str = "failed/"
    errors: str = "errors/"
    superseded: str = "superseded/"
    grants: str = "grants/"
    """Upload grant records: what the upload API granted each key (its size and content type)."""
    reports: str = "reports/"
    """Batch jobs' reports: a job's outcome or rejection, which the workflow's next step reads."""
    resolved: str = "resolved/"
    """Error records of failures a newer version of their key has since fixed."""
    manifests: str = "manifests/"
    """Key lists a backfill reads (``filepipe backfill --manifest``/``--inventory`` writes them)."""
    results: str = "results/"
    """What each item of a backfill's or reprocess's Distributed Map did: its ``ResultWriter``
    files (``results/<machine>/<map run>/manifest.json``), which the CLI counts."""

    @classmethod
    def areas(cls) -> tuple[str, ...]:
        """Every area's name, in this class's order: the one list of them."""
        return tuple(f.name for f in fields(cls))

    def prefixes(self) -> dict[str, str]:
        """Area name -> prefix (``originals`` -> ``originals/``)."""
        return {area: getattr(self, area) for area in self.areas()}

    @staticmethod
    def env_name(area: str) -> str:
        return f"{area.upper()}_PREFIX"

    def to_env(self) -> dict[str, str]:
        """The variables :meth:`from_env` reads: what the stack and the local cloud give handlers."""
        return {self.env_name(area): prefix for area, prefix in self.prefixes().items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ArchiveLayout:
        """The layout the environment names; an area it leaves out keeps its default."""
        return cls(**{area: env[cls.env_name(area)] for area in cls.areas() if cls.env_name(area) in env})

    @staticmethod
    def output_name(area: str) -> str:
        """The stack output that says an area's prefix (``OriginalsPrefix``)."""
        return f"{area.title()}Prefix"

    def to_outputs(self) -> dict[str, str]:
        return {self.output_name(area): prefix for area, prefix in self.prefixes().items()}

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> ArchiveLayout:
        """The layout a deployed stack's outputs name (a stack older than an area: its default)."""
        return cls(**{area: outputs[cls.output_name(area)] for area in cls.areas() if cls.output_name(area) in outputs})

    def original(self, key: str) -> str:
        return fit_key(self.originals, key)

    def output(self, key: str, name: str) -> str:
        return fit_key(self.outputs, key, f"/{name}")

    def failed_copy(self, key: str) -> str:
        return fit_key(self.failed, key)

    def error_record(self, key: str) -> str:
        return fit_key(self.errors, key, ".json")

    def grant_record(self, key: str) -> str:
        return fit_key(self.grants, key, ".json")

    def resolved_record(self, key: str) -> str:
        return fit_key(self.resolved, key, ".json")

    def job_report(self, key: str, version: str) -> str:
        return fit_key(self.reports, key, f"/{version}.json")

    def superseded_original(self, key: str, version: str) -> str:
        """Where an older version goes when a newer one of the key is already archived."""
        return fit_key(self.superseded, key, f"/{version}/original")

    def superseded_output(self, key: str, version: str, name: str) -> str:
        return fit_key(self.superseded, key, f"/{version}/{name}")


def fit_key(prefix: str, key: str, suffix: str = "") -> str:
    """``prefix + key + suffix``, or a hashed stand-in when that exceeds S3's 1,024 bytes.

    The stand-in keeps the key's start (readable in listings) and a SHA-256 of the whole key;
    the full key is always in the object's ``filepipe-key`` metadata (see :func:`key_metadata`).
    """
    whole = f"{prefix}{key}{suffix}"
    if len(whole.encode("utf-8")) <= MAX_KEY_BYTES:
        return whole
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    room = MAX_KEY_BYTES - len(f"{prefix}~{digest}{suffix}".encode())
    head = key.encode("utf-8")[: max(room, 0)].decode("utf-8", errors="ignore")
    return f"{prefix}{head}~{digest}{suffix}"


def key_metadata(key: str) -> str:
    """A key as S3 user metadata can hold it (ASCII only): URL-safe base64 of its UTF-8."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Settings:
    staging_bucket: str
    archive_bucket: str
    layout: ArchiveLayout = field(default_factory=ArchiveLayout)
    copy_multipart_threshold: int = MAX_SINGLE_COPY
    copy_part_size: int = 512 * MiB
    copy_budget_seconds: float | None = None
    """At most this long copying parts per invocation (None: as long as the invocation has)."""
    read_chunk_size: int = 8 * MiB
    write_part_size: int = 8 * MiB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            staging_bucket=env["STAGING_BUCKET"],
            archive_bucket=env["ARCHIVE_BUCKET"],
            layout=ArchiveLayout.from_env(env),
            copy_multipart_threshold=int(env.get("COPY_MULTIPART_THRESHOLD", MAX_SINGLE_COPY)),
            copy_part_size=int(env.get("COPY_PART_SIZE", 512 * MiB)),
            copy_budget_seconds=float(env["COPY_BUDGET_SECONDS"]) if env.get("COPY_BUDGET_SECONDS") else None,
            read_chunk_size=int(env.get("READ_CHUNK_SIZE", 8 * MiB)),
            write_part_size=int(env.get("WRITE_PART_SIZE", 8 * MiB)),
        )
