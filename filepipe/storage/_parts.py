"""Part and range arithmetic, free of I/O so it can be tested on its own."""

from __future__ import annotations

from collections.abc import Iterator

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

MIN_PART_SIZE = 5 * MiB
"""S3's smallest part, except the last one."""
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = MAX_PARTS * MAX_PART_SIZE
"""S3's largest object (48.8 TiB, "50 TB" since December 2025): 10,000 parts of 5 GiB."""
MAX_SINGLE_COPY = 5 * GiB
"""The largest object one CopyObject call may copy."""


def part_size_for(total: int, preferred: int = 64 * MiB, max_parts: int = MAX_PARTS) -> int:
    """The part size for ``total`` bytes: ``preferred`` (at least 5 MiB) when that fits in
    ``max_parts`` parts, else the smallest whole number of MiB that does (at most 5 GiB)."""
    if total < 0:
        raise ValueError(f"size must be >= 0, got {total}")
    needed = -(-total // max_parts)
    size = max(preferred, MIN_PART_SIZE, -(-needed // MiB) * MiB)
    if size > MAX_PART_SIZE:
        raise ValueError(f"{total} bytes cannot be split into {max_parts} parts of at most 5 GiB")
    return size


def growing_part_size(part_number: int, base: int, max_parts: int = MAX_PARTS) -> int:
    """The size of part ``part_number`` (from 1) of an upload whose length is unknown: ``base``,
    doubling every tenth of ``max_parts``, at most 5 GiB. Fixed 8 MiB parts would stop at 78 GiB
    (10,000 parts); these reach 8 TiB, while an output under ``base`` x 1,000 (8 GB) still goes
    in ``base``-sized parts. (An output is written as it is made, so its size is not known
    beforehand; outputs past 8 TiB, a sixth of S3's largest object, are refused.)"""
    if part_number < 1:
        raise ValueError(f"part numbers start at 1, got {part_number}")
    step = max(max_parts // 10, 1)
    return min(base << ((part_number - 1) // step), MAX_PART_SIZE)


def byte_ranges(total: int, part_size: int) -> Iterator[tuple[int, int]]:
    """Inclusive ``(first, last)`` byte offsets covering ``total`` bytes in ``part_size`` steps."""
    if part_size <= 0:
        raise ValueError(f"part size must be > 0, got {part_size}")
    for first in range(0, total, part_size):
        yield first, min(first + part_size, total) - 1
