"""What an uploader is told about a failed file: one line, with no stack trace, server path or
data from the file. The full record (``errors/<key>.json``) stays for operators."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filepipe.moves import FailureRecord

MAX_REASON = 200
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_AFTER_COUNT = re.compile(r"(got \d+)(: .*)$")

_FIXED = {
    "DeploymentError": "the pipeline could not process the file (a problem in its deployment); it will be retried",
    "States.Timeout": "processing took too long",
    "Filepipe.Timeout": "processing took too long",
    "States.TaskFailed": "processing failed",
    "Filepipe.TaskFailed": "processing failed",
}


def public_reason(record: FailureRecord) -> str:
    """One line on why ``record``'s file failed, fit to show the person who uploaded it."""
    error = record.error
    if error in _FIXED:
        return _FIXED[error]
    message = record.message
    if error not in ("TransformRejected", "UploadRefused") or message is None:
        return f"processing failed ({error})"
    line = message.strip().splitlines()[0] if message.strip() else error
    if error == "UploadRefused":  # written by filepipe itself, about sizes and types only
        return line[:MAX_REASON]
    key = record.ref.key
    if key:
        line = line.replace(f"{key}: ", "").replace(key, "the file")
    line = _AFTER_COUNT.sub(r"\1", _QUOTED.sub("…", line))
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"
