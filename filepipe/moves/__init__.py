"""Where an object version is, and the moves that end its journey.

``locate`` finds the original (in staging, or in the failure prefix when a failed file is
retried); ``archive`` and ``move_to_failed`` are the workflow's two endings. Each is safe to run
twice: a duplicate execution or a retried step finds the work done and says so.
"""

from filepipe.moves._archive import ArchiveOutcome, archive
from filepipe.moves._failure import FailureOutcome, move_to_failed
from filepipe.moves._locate import Source, locate, provenance, read_error_record

__all__ = [
    "ArchiveOutcome",
    "FailureOutcome",
    "Source",
    "archive",
    "locate",
    "move_to_failed",
    "provenance",
    "read_error_record",
]
