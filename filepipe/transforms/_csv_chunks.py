"""Cut a CSV stream into chunks of whole rows, so that several threads can parse it at once.

A chunk ends at a line break outside any quoted value: one after which the count of quote
characters (the dialect's, ``"`` by default; none when the dialect has no quoting) since the
start of the file is even (a quoted value opens and closes with one quote,
and a doubled quote inside it adds two). Only ``bytes.count`` and ``bytes.rfind`` touch the
bytes, so cutting runs at memory speed.

The count can be fooled by a quote inside an unquoted value (``5" screen``), which CSV does not
allow but readers accept. The parser checks every chunk (a chunk that ends inside an open quote
leaves its last value ending in a line break), and from a chunk it doubts, or when no cut is
found within ``max_carry`` bytes, the rest of the file is parsed as one stream instead.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass

from filepipe.transforms._base import Readable
from filepipe.transforms._csv_dialect import strip_comments


@dataclass
class Chunk:
    data: bytes
    whole: bool = True
    """Its quotes pair up. Only the file's last chunk may end inside one: a quote never closed."""


def read_head(source: Readable, size: int) -> bytes:
    """The first ``size`` bytes of ``source`` (fewer only at its end): the dialect and the
    column types are found in them."""
    parts, wanted = [], size
    while wanted > 0:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


class RowChunks:
    """The chunks of ``head`` then the rest of ``source``, each about ``size`` bytes of whole
    rows; also counts the file's quote characters and notes a NUL byte, for the checks after
    parsing. ``quote=None``: the dialect has no quoting, every line break ends a row."""

    def __init__(
        self, source: Readable, size: int, max_carry: int, head: bytes = b"", quote: bytes | None = b'"'
    ) -> None:
        self._source, self._size, self._max_carry = source, size, max_carry
        self._quote = quote or b""
        self._pending = [head[at : at + size] for at in range(0, len(head), size)]
        self._carry = b""
        self._carry_quotes = 0
        self.quotes = 0
        self.nul = False
        self.undivided = False
        """No cut was found within ``max_carry`` bytes: the rest is to be read as one stream."""

    def __iter__(self) -> Iterator[Chunk]:
        while not self.undivided:
            block = self._pending.pop(0) if self._pending else self._read(self._size)
            if not block:
                last, self._carry = self._carry, b""
                if last:
                    yield Chunk(last, whole=self._carry_quotes % 2 == 0)
                return
            in_block = self._count(block)
            self.quotes += in_block
            self.nul = self.nul or b"\x00" in block
            quotes = self._carry_quotes + in_block
            cut, after = _last_cut(block, quotes, self._quote)  # the carry holds no cut: only the block
            if cut < 0:
                self._carry, self._carry_quotes = self._carry + block, quotes
                self.undivided = len(self._carry) > self._max_carry
                continue
            data = b"".join((self._carry, memoryview(block)[:cut]))  # one copy, not two
            self._carry, self._carry_quotes = block[cut:], after
            yield Chunk(data)

    def rest(self, before: bytes = b"") -> Readable:
        """``before``, what is carried, then the unread source: one stream, for a reader."""
        pending, self._pending = self._pending, []
        for block in pending:  # read with the head, not yet counted
            self.quotes += self._count(block)
            self.nul = self.nul or b"\x00" in block
        return _Joined([before, self._carry, *pending], self._source, self)

    def _read(self, size: int) -> bytes:
        return read_head(self._source, size)

    def _count(self, data: bytes) -> int:
        """Quote characters in ``data`` (``in`` first: it is the faster scan when there are none)."""
        return data.count(self._quote) if self._quote and self._quote in data else 0


def _last_cut(data: bytes, quotes: int, quote: bytes = b'"') -> tuple[int, int]:
    """The end of the last line break in ``data`` outside quotes (``-1`` if none), and the
    quotes after it; ``quotes`` is the count from the last cut to the end of ``data``, so that
    the parity at each line break is known."""
    end, after = len(data), 0
    while True:
        newline = data.rfind(b"\n", 0, end)
        if newline < 0:
            return -1, quotes
        after += data.count(quote, newline + 1, end) if quote else 0
        if (quotes - after) % 2 == 0:
            return newline + 1, after
        end = newline


class _Joined(io.RawIOBase):
    """Bytes already read, then the rest of a source; still counting for the final checks."""

    def __init__(self, prefix: list[bytes], source: Readable, counter: RowChunks) -> None:
        super().__init__()
        self._prefix = io.BytesIO(b"".join(prefix))
        self._source, self._counter = source, counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._prefix.read(len(buffer))
        if not data:
            data = self._source.read(len(buffer))
            self._counter.quotes += self._counter._count(data)
            self._counter.nul = self._counter.nul or b"\x00" in data
        buffer[: len(data)] = data
        return len(data)


class Transcoded(io.RawIOBase):
    """``source`` in a declared encoding, read as UTF-8 (pyarrow parses UTF-8 only)."""

    def __init__(self, source: Readable, encoding: str, block: int = 1 << 20) -> None:
        super().__init__()
        self._source, self._block = source, block
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._ready = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._ready:
            raw = self._source.read(self._block)
            self._ready = self._decoder.decode(raw, final=not raw).encode("utf-8")
            if not raw:
                break
        taken, self._ready = self._ready[: len(buffer)], self._ready[len(buffer) :]
        buffer[: len(taken)] = taken
        return len(taken)


class Uncommented(io.RawIOBase):
    """``source`` without its comment lines (``strip_comments``), for the streaming reader."""

    def __init__(self, source: Readable, comment: str, quote: str | None, block: int = 1 << 20) -> None:
        super().__init__()
        self._strip = lambda data: strip_comments(data, comment, quote)
        self._source, self._block = source, block
        self._ready, self._partial = b"", b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._ready:
            raw = self._source.read(self._block)
            if not raw:
                self._ready, self._partial = self._strip(self._partial), b""
                break
            data = self._partial + raw
            end = data.rfind(b"\n") + 1
            self._ready, self._partial = self._strip(data[:end]), data[end:]
        taken, self._ready = self._ready[: len(buffer)], self._ready[len(buffer) :]
        buffer[: len(taken)] = taken
        return len(taken)
