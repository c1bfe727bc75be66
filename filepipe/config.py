"""Runtime settings of the handlers and the worker, read from their environment.

The stack (``stack/``) and the local cloud (``filepipe.local``) set the same variables, so code
never needs to know where it runs. Only entrypoints call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

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
    read_chunk_size: int = 8 * MiB
    write_part_size: int = 8 * MiB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = ArchiveLayout()
        return cls(
            staging_bucket=env["STAGING_BUCKET"],
            archive_bucket=env["ARCHIVE_BUCKET"],
            layout=ArchiveLayout(
                originals=env.get("ORIGINALS_PREFIX", defaults.originals),
                outputs=env.get("OUTPUTS_PREFIX", defaults.outputs),
                failed=env.get("FAILED_PREFIX", defaults.failed),
                errors=env.get("ERRORS_PREFIX", defaults.errors),
                superseded=env.get("SUPERSEDED_PREFIX", defaults.superseded),
                grants=env.get("GRANTS_PREFIX", defaults.grants),
                reports=env.get("REPORTS_PREFIX", defaults.reports),
                resolved=env.get("RESOLVED_PREFIX", defaults.resolved),
                manifests=env.get("MANIFESTS_PREFIX", defaults.manifests),
            ),
            copy_multipart_threshold=int(env.get("COPY_MULTIPART_THRESHOLD", MAX_SINGLE_COPY)),
            copy_part_size=int(env.get("COPY_PART_SIZE", 512 * MiB)),
            read_chunk_size=int(env.get("READ_CHUNK_SIZE", 8 * MiB)),
            write_part_size=int(env.get("WRITE_PART_SIZE", 8 * MiB)),
        )
