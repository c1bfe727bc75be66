"""What the local cloud's child processes (function environments, Batch jobs run as
subprocesses) start with: the variables their configuration gives them and a few the platform
would provide, never the rest of the host's environment. A developer's ``AWS_PROFILE``,
``AWS_ENDPOINT_URL_S3`` or real credentials must not reach code that talks to the local endpoint,
just as they do not reach a function in AWS."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
"""The handlers' and worker's code root, as ``/app`` and ``LAMBDA_TASK_ROOT`` are in the image."""

_PLATFORM = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
"""Host variables a child still needs: to find programs, a locale, a temporary directory, CAs."""


_NO_AWS_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
"""Nor do the developer's ``~/.aws`` files: a function finds none either."""


def child_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """The platform's few host variables, then ``variables``, with the code root importable."""
    base = {name: os.environ[name] for name in _PLATFORM if name in os.environ}
    return base | _NO_AWS_FILES | dict(variables) | {"PYTHONPATH": str(REPOSITORY_ROOT), "PYTHONUNBUFFERED": "1"}
