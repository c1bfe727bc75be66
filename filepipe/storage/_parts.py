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
MAX_SINGLE_COPY = 5 * GiB
"""The largest object one CopyObject call may copy."""


def part_size_for(total: int, preferred: int = 64 * MiB) -> int:
    """The smallest part size >= ``preferred`` that fits ``total`` bytes in 10,000 parts."""
    if total < 0:
        raise ValueError(f"size must be >= 0, got {total}")
    size = max(preferred, MIN_PART_SIZE)
    while size * MAX_PARTS < total:
        size *= 2
    if size > MAX_PART_SIZE:
        raise ValueError(f"{total} bytes cannot be split into {MAX_PARTS} parts of at most 5 GiB")
    return size


def byte_ranges(total: int, part_size: int) -> Iterator[tuple[int, int]]:
    """Inclusive ``(first, last)`` byte offsets covering ``total`` bytes in ``part_size`` steps."""
    if part_size <= 0:
        raise ValueError(f"part size must be > 0, got {part_size}")
    for first in range(0, total, part_size):
        yield first, min(first + part_size, total) - 1
