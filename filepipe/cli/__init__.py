"""The ``filepipe`` command line: run the local cloud, watch and retry files, anywhere.

Each command lives beside its kind: the local cloud's (``_local``), the files' (``_files``), one
file's story (``_why``).
"""

from filepipe.cli import _files, _local, _why
from filepipe.cli._app import main

__all__ = ["main"]
_COMMANDS = (_files, _local, _why)
"""Imported for their commands, which register on :func:`main`."""
