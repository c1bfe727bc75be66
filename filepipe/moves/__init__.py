"""Where an object version is, and the moves that end its journey.

``locate`` finds the original (in staging, or in the failure prefix when a failed file is
retried); ``archive`` and ``move_to_failed`` are the workflow's two endings, and a
:class:`Verdict` fails the execution with the file's error (or, rerun by a Redrive, sends the
file back to be processed). Each is safe to run twice: a duplicate execution or a retried step
finds the work done and says so.
"""

from filepipe.moves._archive import ArchiveOutcome, archive
from filepipe.moves._failure import FailureOutcome, move_to_failed
from filepipe.moves._locate import Source, locate, provenance, same_version
from filepipe.moves._placement import Placement, place
from filepipe.moves._record import FailureRecord, Resolution, read_error_record, read_record
from filepipe.moves._verdict import Verdict, deliver

__all__ = [
    "ArchiveOutcome",
    "FailureOutcome",
    "FailureRecord",
    "Placement",
    "Resolution",
    "Source",
    "Verdict",
    "archive",
    "deliver",
    "locate",
    "move_to_failed",
    "place",
    "provenance",
    "read_error_record",
    "read_record",
    "same_version",
]
