"""``csv-to-parquet``: a CSV into a Parquet file, parsed on every core, in bounded memory.

The CSV is cut into chunks of whole rows (``_csv_chunks.py``), parsed by one thread more than
there are cores with pyarrow (which releases the GIL while it parses: the extra thread keeps the
cores busy while this one encodes), and written in file order, a chunk per row group: the
output is the same bytes whatever the number of cores, on Lambda and on Batch.
Column types are inferred from the first 1 MiB, as pyarrow's streaming reader infers them.
Strings are dictionary-encoded; numbers and timestamps are not (their dictionaries cost time and
rarely pay); everything is compressed with zstd.

pyarrow's reader is lenient where leniency loses data silently, so the transform is stricter:
- a quote opened and never closed swallows every later row into one value: the file is refused
  (an odd number of quote characters, and a last value ending in a line break);
- a NUL byte is not text (often a UTF-16 file, or binary data): refused;
- a row with too many or too few fields, or a column that is not UTF-8: refused (pyarrow's own);
- blank lines are skipped, as every CSV reader skips them.
"""

from __future__ import annotations

import io
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from filepipe.errors import TransformRejected
from filepipe.storage import MiB
from filepipe.transforms._base import Readable, SourceInfo, Writable
from filepipe.transforms._csv_chunks import Chunk, RowChunks

BLOCK_SIZE = 1 * MiB
"""Column types are inferred from the first block of this size (as the streaming reader does)."""
CHUNK_SIZE = 4 * MiB
"""Bytes of CSV per parsed chunk, and so per row group."""
MAX_CARRY = 64 * MiB
"""A chunk that finds no row boundary within this many bytes gives up cutting (see _csv_chunks)."""
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def memory_pool() -> pa.MemoryPool:
    """jemalloc where this pyarrow has it: 30 MiB less peak RSS than its default (mimalloc) for
    a 1 GiB CSV at the same speed, measured here; fragments of freed chunks are returned sooner."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


def cores() -> int:
    """The cores this process may run on (a container's or a Lambda's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class CsvToParquet:
    name = "csv-to-parquet"
    version = "2"
    """2: rows parsed in 4 MiB chunks on every core, a row group per chunk (1: the streaming reader)."""
    output_name = "data.parquet"
    content_type = "application/vnd.apache.parquet"

    def __init__(
        self,
        block_size: int = BLOCK_SIZE,
        compression: str = "zstd",
        chunk_size: int = CHUNK_SIZE,
        threads: int | None = None,
    ) -> None:
        self._block_size, self._compression = block_size, compression
        self._chunk_size, self._threads = chunk_size, threads

    def run(self, source: Readable, sink: Writable, info: SourceInfo) -> dict[str, Any]:
        # Twice the block, so that the first block (cut at its last line break) is whole rows.
        chunks = RowChunks(source, self._chunk_size, MAX_CARRY, head_size=2 * self._block_size)
        try:
            schema = pacsv.open_csv(
                io.BytesIO(chunks.head),
                read_options=pacsv.ReadOptions(block_size=self._block_size),
                memory_pool=memory_pool(),
            ).schema
            _require_text(schema, info)
            with _Output(sink, schema, self._compression) as output:
                self._convert(iter(chunks), chunks, output, _Parser(schema))
        except ARROW_ERRORS as exc:
            raise TransformRejected(f"{info.key} is not a CSV this transform can read: {exc}") from exc
        if chunks.nul:
            raise TransformRejected(f"{info.key}: it holds a NUL byte, so it is not CSV text")
        if chunks.quotes % 2 and _ends_in_a_line_break(output.last):
            raise TransformRejected(
                f"{info.key}: a quoted field is never closed, so every row after it would be one value"
            )
        return {"rows": output.rows, "columns": schema.names}

    def _convert(self, queue: Any, chunks: RowChunks, output: _Output, parse: _Parser) -> None:
        threads = self._threads or cores() + 1
        in_flight: deque[tuple[Chunk, Future[pa.Table]]] = deque()
        with ThreadPoolExecutor(threads, thread_name_prefix="csv-parse") as pool:
            for chunk in queue:
                if not chunk.whole:  # the file ends inside a quote: the reader will say how
                    in_flight.append((chunk, _doubtful()))
                    break
                in_flight.append((chunk, pool.submit(parse.chunk, chunk)))
                if len(in_flight) > threads and not _write_next(in_flight, output):
                    break
            while in_flight and _write_next(in_flight, output):
                pass
        if in_flight or chunks.undivided:
            # A chunk whose cut was in doubt, or no cut at all: the rest, read as one stream.
            before = b"".join(chunk.data for chunk, _ in in_flight)
            header = in_flight[0][0].first if in_flight else not chunks.started
            output.stream(chunks.rest(before), parse, header=header)


def _doubtful() -> Future[pa.Table]:
    """A chunk not to parse on its own: it stands in the queue as a doubt."""
    doubt: Future[pa.Table] = Future()
    doubt.set_result(None)
    return doubt


def _write_next(in_flight: deque[tuple[Chunk, Future[pa.Table]]], output: _Output) -> bool:
    """Write the oldest chunk's table; False (and the chunk kept) when its cut is in doubt."""
    _, parsed = in_flight[0]
    table = parsed.result()
    if table is None or _ends_in_a_line_break(table):
        for _, later in in_flight:
            later.cancel()
        return False
    in_flight.popleft()
    output.write(table)
    return True


class _Parser:
    """Parses chunks with the first block's types (threads share it: pyarrow is thread-safe)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.names = schema.names
        self.convert = pacsv.ConvertOptions(column_types=dict(zip(schema.names, schema.types, strict=True)))
        self.pool = memory_pool()

    def chunk(self, chunk: Chunk) -> pa.Table:
        options = pacsv.ReadOptions(column_names=self.names, skip_rows=1 if chunk.first else 0, use_threads=False)
        return pacsv.read_csv(
            pa.py_buffer(chunk.data), read_options=options, convert_options=self.convert, memory_pool=self.pool
        )

    def stream(self, source: Readable, header: bool) -> pacsv.CSVStreamingReader:
        options = pacsv.ReadOptions(column_names=self.names, skip_rows=1 if header else 0, block_size=BLOCK_SIZE)
        return pacsv.open_csv(source, read_options=options, convert_options=self.convert, memory_pool=self.pool)


class _Output:
    """The Parquet writer, counting rows and keeping the last non-empty table for the checks."""

    def __init__(self, sink: Writable, schema: pa.Schema, compression: str) -> None:
        strings = [n for n, t in zip(schema.names, schema.types, strict=True) if pa.types.is_string(t)]
        self._writer = pq.ParquetWriter(
            sink, schema, compression=compression, use_dictionary=strings, memory_pool=memory_pool()
        )
        self.rows = 0
        self.last: pa.Table | pa.RecordBatch | None = None

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if table.num_rows:
            self._writer.write(table, row_group_size=table.num_rows)
            self.rows += table.num_rows
            self.last = table

    def stream(self, source: Readable, parse: _Parser, header: bool) -> None:
        for batch in parse.stream(source, header):
            self.write(batch)

    def __enter__(self) -> _Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()


def _ends_in_a_line_break(table: pa.Table | pa.RecordBatch | None) -> bool:
    """Whether the last value ends in a line break: what a quote left open leaves."""
    if table is None or not table.num_rows or not table.num_columns:
        return False
    value = table.column(table.num_columns - 1)[table.num_rows - 1].as_py()
    return isinstance(value, str) and value.endswith(("\n", "\r"))


def _require_text(schema: pa.Schema, info: SourceInfo) -> None:
    """pyarrow reads invalid UTF-8 as binary columns; a CSV of another encoding is refused."""
    for name, type_ in zip(schema.names, schema.types, strict=True):
        if pa.types.is_binary(type_):
            raise TransformRejected(f"{info.key}: column {name!r} is not UTF-8 text")
