"""The digest of the sources the worker image is built from: ``python3 batch_image/sources.py``
(``--image``: the image's name, tagged with that digest).

The build passes it to the image as a label (``io.filepipe.sources``); the local cloud compares
the label with the working tree's digest and never runs an image built from other sources
without saying so. Standard library only, so any Python 3 can compute it before a build.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("Dockerfile", "batch_image", "filepipe", "trigger_lambda", "transform_lambda", "moves_lambda", "upload_api")
"""What the Dockerfile copies (the build context's .dockerignore admits the same)."""
LABEL = "io.filepipe.sources"
REPOSITORY = "localhost/filepipe-worker"
"""Where ``make image`` tags the worker image, one tag per sources digest: every checkout on the
machine gets its own image, and ``filepipe up`` finds the one built from its sources."""


def sources_digest(root: Path = ROOT) -> str:
    """SHA-256 over every source file's path and bytes, in a fixed order; caches are left out."""
    digest = hashlib.sha256()
    for name in SOURCES:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_for(digest: str | None = None) -> str:
    """The image ``make image`` builds from these sources: ``localhost/filepipe-worker:<digest>``."""
    return f"{REPOSITORY}:{digest or sources_digest()}"


if __name__ == "__main__":
    sys.stdout.write((image_for() if sys.argv[1:] == ["--image"] else sources_digest()) + "\n")
