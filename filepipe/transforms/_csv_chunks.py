"""Cut a CSV stream into chunks of whole rows, so that several threads can parse it at once.

A chunk ends at a line break outside any quoted value: one after which the count of quote
characters since the start of the file is even (a quoted value opens and closes with one quote,
and a doubled quote inside it adds two). Only ``bytes.count`` and ``bytes.rfind`` touch the
bytes, so cutting runs at memory speed.

The count can be fooled by a quote inside an unquoted value (``5" screen``), which CSV does not
allow but readers accept. The parser checks every chunk (a chunk that ends inside an open quote
leaves its last value ending in a line break), and from a chunk it doubts, or when no cut is
found within ``max_carry`` bytes, the rest of the file is parsed as one stream instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from filepipe.transforms._base import Readable


@dataclass
class Chunk:
    data: bytes
    first: bool
    """The file's first chunk, which holds the header row."""
    whole: bool = True
    """Its quotes pair up. Only the file's last chunk may end inside one: a quote never closed."""


class RowChunks:
    """The chunks of ``source``, each about ``size`` bytes of whole rows; also counts the
    file's quote characters and notes a NUL byte, for the checks after parsing."""

    def __init__(self, source: Readable, size: int, max_carry: int, head_size: int = 0) -> None:
        self._source, self._size, self._max_carry = source, size, max_carry
        self.head = self._read(max(size, head_size))
        """The file's first bytes (at least ``head_size``): column types are inferred from them."""
        self._pending = [self.head[at : at + size] for at in range(0, len(self.head), size)]
        self._carry = b""
        self._carry_quotes = 0
        self.quotes = 0
        self.nul = False
        self.undivided = False
        """No cut was found within ``max_carry`` bytes: the rest is to be read as one stream."""
        self.started = False
        """A chunk was handed out: what is carried no longer starts with the header."""

    def __iter__(self) -> Iterator[Chunk]:
        first = True
        while not self.undivided:
            block = self._pending.pop(0) if self._pending else self._read(self._size)
            if not block:
                last, self._carry = self._carry, b""
                if last:
                    self.started = True
                    yield Chunk(last, first, whole=self._carry_quotes % 2 == 0)
                return
            in_block = block.count(b'"') if b'"' in block else 0  # ``in`` is the faster scan
            self.quotes += in_block
            self.nul = self.nul or b"\x00" in block
            quotes = self._carry_quotes + in_block
            cut, after = _last_cut(block, quotes)  # the carry holds no cut: only the block is searched
            if cut < 0:
                self._carry, self._carry_quotes = self._carry + block, quotes
                self.undivided = len(self._carry) > self._max_carry
                continue
            data = b"".join((self._carry, memoryview(block)[:cut]))  # one copy, not two
            self._carry, self._carry_quotes = block[cut:], after
            self.started = True
            yield Chunk(data, first)
            first = False

    def rest(self, before: bytes = b"") -> Readable:
        """``before``, what is carried, then the unread source: one stream, for a reader."""
        pending, self._pending = self._pending, []
        for block in pending:  # read with the head, not yet counted
            self.quotes += block.count(b'"')
            self.nul = self.nul or b"\x00" in block
        return _Joined([before, self._carry, *pending], self._source, self)

    def _read(self, size: int) -> bytes:
        parts, wanted = [], size
        while wanted > 0:
            part = self._source.read(wanted)
            if not part:
                break
            parts.append(part)
            wanted -= len(part)
        return b"".join(parts)


def _last_cut(data: bytes, quotes: int) -> tuple[int, int]:
    """The end of the last line break in ``data`` outside quotes (``-1`` if none), and the
    quotes after it; ``quotes`` is the count from the last cut to the end of ``data``, so that
    the parity at each line break is known."""
    end, after = len(data), 0
    while True:
        newline = data.rfind(b"\n", 0, end)
        if newline < 0:
            return -1, quotes
        after += data.count(b'"', newline + 1, end)
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
            self._counter.quotes += data.count(b'"')
            self._counter.nul = self._counter.nul or b"\x00" in data
        buffer[: len(data)] = data
        return len(data)
