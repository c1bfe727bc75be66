"""The one place that says which transform a key gets."""

from __future__ import annotations

from fnmatch import fnmatchcase

from filepipe.transforms._base import Transform
from filepipe.transforms.csv_to_parquet import CsvToParquet
from filepipe.transforms.manifest import Manifest

TRANSFORMS: dict[str, Transform] = {t.name: t for t in (Manifest(), CsvToParquet())}

RULES: list[tuple[str, str]] = [
    ("*.csv", "csv-to-parquet"),
]
"""``(pattern, transform)`` pairs, first match wins, matched case-insensitively against the key."""

DEFAULT = "manifest"


def transform_for(key: str) -> Transform:
    """The transform for ``key``: the first matching rule's, else ``manifest``."""
    lowered = key.lower()
    for pattern, name in RULES:
        if fnmatchcase(lowered, pattern):
            return TRANSFORMS[name]
    return TRANSFORMS[DEFAULT]
