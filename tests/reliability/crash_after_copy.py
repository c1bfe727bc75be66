"""Preloaded into the archive function's environments (``FILEPIPE_LAMBDA_PRELOAD``): the first
environment to archive anything kills its own process right after the copy and before the
delete, as a runtime killed mid-move would be. ``FILEPIPE_TEST_CRASH_MARKER`` names the file
that records the crash, so the retry (in a new environment) goes through."""

from __future__ import annotations

import os
from typing import Any

from filepipe.moves import _archive

_remove_source = _archive.remove_source


def _crash_once_after_copy(*args: Any, **kwargs: Any) -> Any:
    try:
        os.close(os.open(os.environ["FILEPIPE_TEST_CRASH_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return _remove_source(*args, **kwargs)
    os._exit(1)


_archive.remove_source = _crash_once_after_copy  # type: ignore[assignment]
