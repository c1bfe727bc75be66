"""Keys are made server-side: a sanitized file name under a fresh per-upload prefix."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime

MAX_FILENAME_BYTES = 255
_UNSAFE = re.compile(r"[\\/:*?\"<>|#%{}^~\[\]`]+")


class InvalidFilename(ValueError):
    """The file name cannot become part of a key."""


def sanitize_filename(name: object) -> str:
    """A file name safe as the last part of a key, or :class:`InvalidFilename`.

    Refused: empty names, control characters, path components (``..``, ``/``, ``\\``).
    Kept: unicode letters, spaces, ``+`` and other printable characters S3 handles.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidFilename("filename must be a non-empty string")
    name = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise InvalidFilename("filename must not contain control characters")
    if any(unicodedata.category(c) == "Cs" for c in name):
        raise InvalidFilename("filename must be valid Unicode (it has a lone surrogate)")
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise InvalidFilename("filename must be a name, not a path")
    cleaned = _UNSAFE.sub("_", name).strip().strip(".")
    if not cleaned:
        raise InvalidFilename("filename has no usable characters")
    if len(cleaned.encode("utf-8")) > MAX_FILENAME_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext.encode("utf-8")) <= 16:
            room = MAX_FILENAME_BYTES - len(ext.encode("utf-8")) - 1
            cleaned = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore") + "." + ext
        else:
            cleaned = cleaned.encode("utf-8")[:MAX_FILENAME_BYTES].decode("utf-8", errors="ignore")
    return cleaned


def upload_key(
    filename: str, prefix: str = "uploads/", now: datetime | None = None, upload_id: str | None = None
) -> str:
    """``uploads/2026/11/26/<uuid>/<sanitized name>``: unique, sortable by day."""
    now = now or datetime.now()
    upload_id = upload_id or uuid.uuid4().hex
    return f"{prefix}{now:%Y/%m/%d}/{upload_id}/{sanitize_filename(filename)}"
