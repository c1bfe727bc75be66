"""The interface every transform shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SourceInfo:
    """What a transform may know of its input besides the bytes."""

    key: str
    size: int
    content_type: str | None = None


class Readable(Protocol):
    """A binary stream: ``read(n)`` returns at most ``n`` bytes, ``b""`` at its end."""

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """A binary stream the output goes to, in the order written: a
    :class:`filepipe.storage.MultipartWriter`, which is also an ``io.RawIOBase``, so pyarrow's
    writers (``pq.ParquetWriter(sink, ...)``, ``pa.output_stream``) take it as a Python file. It
    cannot seek: write the output front to back. ``write`` accepts any bytes-like object (pyarrow
    hands it buffers) and returns the number of bytes taken."""

    def write(self, data: bytes, /) -> int: ...


class Transform(Protocol):
    """Reads ``source`` (a readable binary stream) and writes one output to ``sink``.

    It must stream (bounded memory whatever the input size), be deterministic (the Lambda and
    the Batch worker must produce the same bytes), and raise
    :class:`filepipe.errors.TransformRejected` for input it cannot accept.
    Returns a small JSON-able summary that ends up in the execution's output.
    """

    name: str
    version: str
    """Raise it whenever the output for the same input changes: every output records it
    (``filepipe-transform-version`` metadata), so outputs made by older code can be found."""
    output_name: str
    content_type: str

    def run(self, source: Readable, sink: Writable, info: SourceInfo) -> dict[str, Any]: ...
