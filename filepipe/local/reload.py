"""Code reload for ``filepipe up``: after an edit, new invocations run the sources as they are now.

A watcher (watchfiles) follows what the worker image is built from (``batch_image/sources.py``:
``filepipe/``, the handlers' folders, ``batch_image/``). When a file there changes, the local
cloud retires its warm execution environments (the next invocation starts a new one with the new
code, as a Lambda deploy does), and Batch jobs run the new code: a subprocess job starts from the
files anyway; a container job runs the image tagged with the new sources' digest, built in the
background, and as a subprocess, saying so, until it exists.

What the local cloud itself runs (its endpoint, the state machine definitions) is not reloaded:
that needs a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

from batch_image.sources import SOURCES

_log = logging.getLogger(__name__)


def watched_paths(root: Path) -> list[Path]:
    """The source folders and files under ``root`` that exist (a checkout may lack one)."""
    return [root / name for name in SOURCES if (root / name).exists()]


class SourceWatcher:
    """Calls ``on_change`` with the changed paths (relative to ``root``) after each settled edit."""

    def __init__(self, root: Path, on_change: Callable[[list[str]], None], debounce_ms: int = 400) -> None:
        self.root, self.on_change, self.debounce_ms = root, on_change, debounce_ms
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SourceWatcher:
        self._thread = threading.Thread(target=self._watch, name="source-watcher", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        return self

    def _watch(self) -> None:
        changes = watchfiles.watch(
            *watched_paths(self.root),
            stop_event=self._stop,
            debounce=self.debounce_ms,
            raise_interrupt=False,
            yield_on_timeout=True,
            rust_timeout=500,
        )
        for changed in changes:
            self._ready.set()
            if changed:
                try:
                    self.on_change(self._relative(path for _, path in changed))
                except Exception:  # a failed reload must not end the watching
                    _log.exception("reloading the sources failed")

    def _relative(self, paths: Iterable[str]) -> list[str]:
        names = set()
        for path in paths:
            try:
                names.add(Path(path).relative_to(self.root).as_posix())
            except ValueError:
                names.add(path)
        return sorted(names)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
