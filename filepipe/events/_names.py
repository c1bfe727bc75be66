"""Deterministic execution names, so a repeated event starts nothing new."""

from __future__ import annotations

import hashlib
import re

from filepipe.events._ref import ObjectRef

MAX_EXECUTION_NAME = 80
_DIGEST_CHARS = 32
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def execution_name(ref: ObjectRef) -> str:
    """A name from bucket, key and version, in Step Functions' alphabet; an unversioned object
    (no version ID) is named by its ETag and the event's sequencer instead.

    A version ID is unique, so the name can be found from a HEAD of the object alone (the upload
    API's status does so, without listing executions). The readable part is the key's tail (what
    a person looks for in the console); the digest makes it unique per object version. Always at
    most 80 characters of ``[A-Za-z0-9_-]``.
    """
    if ref.version_id and ref.version_id != "null":
        identity = "\0".join([ref.bucket, ref.key, ref.version_id])
    else:
        identity = "\0".join([ref.bucket, ref.key, "", ref.etag or "", ref.sequencer or ""])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    readable = _UNSAFE.sub("_", ref.key).strip("_")
    room = MAX_EXECUTION_NAME - _DIGEST_CHARS - 1
    readable = readable[-room:].lstrip("_-") or "object"
    return f"{readable}-{digest}"


def retry_name(ref: ObjectRef, attempt: int) -> str:
    """The name of a retry of ``ref``: deterministic per attempt, so asking twice starts one."""
    suffix = f"-retry{attempt}"
    base = execution_name(ref)
    readable, digest = base.rsplit("-", 1)
    room = MAX_EXECUTION_NAME - len(digest) - len(suffix) - 1
    return f"{readable[:room].rstrip('_-') or 'object'}-{digest}{suffix}"
