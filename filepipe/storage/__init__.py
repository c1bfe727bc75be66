"""Streaming S3 I/O with bounded memory.

Example::

    with MultipartWriter(s3, "bucket", "out.bin") as sink:
        for chunk in RangeReader(s3, "bucket", "in.bin", version_id="v1").iter_chunks():
            sink.write(chunk)
"""

from filepipe.storage._copy import PartialCopy, copy_version, seconds_per_part
from filepipe.storage._objects import GONE_CODES, head, read_json
from filepipe.storage._parts import (
    MAX_OBJECT_SIZE,
    MAX_PARTS,
    MAX_SINGLE_COPY,
    MIN_PART_SIZE,
    GiB,
    KiB,
    MiB,
    byte_ranges,
    growing_part_size,
    part_size_for,
)
from filepipe.storage._reader import RangeReader
from filepipe.storage._writer import MultipartWriter

__all__ = [
    "GONE_CODES",
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_SINGLE_COPY",
    "MIN_PART_SIZE",
    "GiB",
    "KiB",
    "MiB",
    "MultipartWriter",
    "PartialCopy",
    "RangeReader",
    "byte_ranges",
    "copy_version",
    "growing_part_size",
    "head",
    "part_size_for",
    "read_json",
    "seconds_per_part",
]
