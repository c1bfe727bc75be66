"""``csv-to-parquet``: a CSV into a Parquet file, parsed on every core, in bounded memory.

From the file's first 2 MiB (the sample), in this order:
1. its dialect: delimiter, quote, escape, comment character, lines to skip, header or none, and
   the column names (unique and non-empty, as DuckDB names them), by DuckDB's sniffer
   (``_csv_dialect.py``) or as a declared schema fixes them (``csv_schemas.py``);
2. each column's type, the narrowest that holds every sampled value exactly (``_csv_types.py``),
   or the declared type.

Then the rest is cut into chunks of whole rows (``_csv_chunks.py``), parsed as text by one
thread more than there are cores with pyarrow (which releases the GIL while it parses: the
extra thread keeps the cores busy while this one encodes), converted to the column types by
the same threads, and written in file order, a chunk per row group: the output is the same
bytes whatever the number of cores, on Lambda and on Batch. Strings are dictionary-encoded;
numbers and timestamps are not (their dictionaries cost time and rarely pay); everything is
compressed with zstd.

Late type evidence. The types are fixed before the first row group is written, and a Parquet
file has one type per column, so a value found later that its column's type cannot hold
exactly (``1.5`` in an integer column, ``007`` in a number column, a third decimal place in a
column sampled with two) can neither widen the column nor be changed: the file is refused, and
the message names the row, the column and the value, and how to declare the column's type. The
sample is chosen to make that rare (decimals get precision 38, so integer parts may grow), and a
declared schema removes it. Rewriting instead would need the source read twice and the output
buffered or discarded, neither of which the streaming Lambda and worker paths can afford.

pyarrow's reader is lenient where leniency loses data silently, so the transform is stricter:
- a quote opened and never closed swallows every later row into one value: the file is refused
  (an odd number of quote characters, and a last value ending in a line break);
- a NUL byte is not text (often a UTF-16 file, or binary data): refused;
- a row with too many or too few fields, or text that is not UTF-8 (without a declared encoding):
  refused, with the row;
- blank lines, and lines of whitespace only, are skipped, as DuckDB skips them; in a table of
  one column an empty line is a row whose one value is empty (null), as DuckDB reads it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from filepipe.errors import TransformRejected
from filepipe.storage import MiB
from filepipe.transforms import _csv_types as types
from filepipe.transforms._base import Readable, SourceInfo, Writable
from filepipe.transforms._csv_chunks import Chunk, RowChunks, Transcoded, Uncommented, read_head
from filepipe.transforms._csv_dialect import data_start, strip_comments
from filepipe.transforms._csv_plan import (
    ARROW_ERRORS,
    TRAILING,
    Plan,
    cores,
    declared_schemas,
    holds_no_rows,
    memory_pool,
    no_rows,
    parse_failure,
    recorder,
    sample_of,
    where,
)
from filepipe.transforms.csv_schemas import Declared, SchemaError, for_key

BLOCK_SIZE = 1 * MiB
"""The streaming reader's block, where the file cannot be cut into chunks."""
SAMPLE_SIZE = 2 * MiB
"""The dialect and the column types are found in the file's first bytes, this many."""
CHUNK_SIZE = 4 * MiB
"""Bytes of CSV per parsed chunk, and so per row group."""
MAX_CARRY = 64 * MiB
"""A chunk that finds no row boundary within this many bytes gives up cutting (see _csv_chunks)."""
PARSER_NICENESS = 10
"""How far behind the writer the parsing threads run (Linux niceness, added to the writer's)."""
BOM = b"\xef\xbb\xbf"
DECLARE = "declare the column's type for this key in filepipe/transforms/csv_schemas.toml"


class CsvToParquet:
    name = "csv-to-parquet"
    version = "4"
    """4: in a table of one column a blank line is a row whose value is null, as DuckDB reads it;
    3: dialect and header detected, exact types (decimals, leading zeros, big integers), declared
    schemas; 2: rows parsed in 4 MiB chunks on every core, a row group per chunk (1: the streaming reader)."""
    output_name = "data.parquet"
    content_type = "application/vnd.apache.parquet"

    def __init__(
        self,
        block_size: int = BLOCK_SIZE,
        compression: str = "zstd",
        chunk_size: int = CHUNK_SIZE,
        threads: int | None = None,
        schemas: tuple[Declared, ...] | None = None,
        sample_size: int = SAMPLE_SIZE,
    ) -> None:
        self._block_size, self._compression = block_size, compression
        self._chunk_size, self._threads = chunk_size, threads
        self._schemas, self._sample_size = schemas, sample_size

    def run(self, source: Readable, sink: Writable, info: SourceInfo) -> dict[str, Any]:
        declared = self._declared(info.key)
        if declared is not None and declared.transcoded:
            source = Transcoded(source, declared.encoding)
        wanted = max(self._chunk_size, self._sample_size)
        head = read_head(source, wanted)
        head = head[len(BOM) :] if head.startswith(BOM) else head
        if b"\x00" in head:
            raise TransformRejected(f"{info.key}: it holds a NUL byte, so it is not CSV text (UTF-16, or binary?)")
        try:
            plan = Plan.of(sample_of(head, self._sample_size, whole=len(head) < wanted), info.key, declared)
            dialect = plan.dialect
            quote = dialect.quote.encode() if dialect.quote else None
            chunks = RowChunks(source, self._chunk_size, MAX_CARRY, head[data_start(head, dialect) :], quote)
            chunks.undivided = dialect.escape is not None  # an escaped quote defeats counting: one stream
            parser = _Parser(plan, self._block_size)
            with _Output(sink, plan, self._compression) as output:
                self._convert(iter(chunks), chunks, output, parser)
        except ARROW_ERRORS as exc:
            raise TransformRejected(f"{info.key} is not a CSV this transform can read: {exc}") from exc
        if chunks.nul:
            raise TransformRejected(f"{info.key}: it holds a NUL byte, so it is not CSV text")
        if chunks.quotes % 2 and output.open_quote:
            raise TransformRejected(
                f"{info.key}: a quoted field is never closed, so every row after it would be one value"
            )
        summary: dict[str, Any] = {"rows": output.rows, "columns": plan.names, "dialect": dialect.summary()}
        return summary | ({"schema": declared.pattern} if declared else {})

    def _declared(self, key: str) -> Declared | None:
        try:
            schemas = self._schemas if self._schemas is not None else declared_schemas()
        except SchemaError as exc:
            raise TransformRejected(f"{key}: the declared CSV schemas cannot be read: {exc}") from exc
        return for_key(key, schemas)

    def _convert(self, queue: Iterable[Chunk], chunks: RowChunks, output: _Output, parser: _Parser) -> None:
        threads = self._threads or cores() + 1
        in_flight: deque[tuple[Chunk, Future[_Parsed | None]]] = deque()
        with ThreadPoolExecutor(threads, thread_name_prefix="csv-parse", initializer=_behind_the_writer) as pool:
            for chunk in queue:
                if not chunk.whole:  # the file ends inside a quote: the reader will say how
                    in_flight.append((chunk, _doubtful()))
                    break
                in_flight.append((chunk, pool.submit(parser.chunk, chunk.data)))
                if len(in_flight) > threads and not _write_next(in_flight, output):
                    break
            while in_flight and _write_next(in_flight, output):
                pass
        if in_flight or chunks.undivided:
            # A chunk whose cut was in doubt, or no cut at all: the rest, read as one stream.
            before = b"".join(chunk.data for chunk, _ in in_flight)
            output.stream(chunks.rest(before), parser)


@dataclass
class _Parsed:
    """A piece parsed and converted, or what stopped it and at which of its rows (1-based)."""

    table: pa.Table | None
    open_quote: bool = False
    problem: str | None = None
    row: int = 0


class _Parser:
    """Parses chunks as text and converts them to the plan's types (threads share it: pyarrow
    and Arrow's compute functions are thread-safe)."""

    def __init__(self, plan: Plan, block_size: int) -> None:
        self.plan, self.block_size = plan, block_size
        self.schema = plan.schema()
        self.pool = memory_pool()

    def chunk(self, data: bytes) -> _Parsed:
        if self.plan.dialect.comment:
            data = strip_comments(data, self.plan.dialect.comment, self.plan.dialect.quote)
        if holds_no_rows(data, len(self.plan.parsed)):
            return self.typed(no_rows(self.plan.parsed))
        try:
            return self.typed(self._read(data, self.plan.convert_options(), []))
        except ARROW_ERRORS:
            pass  # a value pyarrow would not convert, or a row of the wrong width: find which, as text
        invalid: list[Any] = []
        try:
            strings = self._read(data, self.plan.text_options(), invalid)
        except ARROW_ERRORS as exc:
            row, problem = parse_failure(exc, invalid)
            return _Parsed(None, problem=problem, row=row)
        return self.typed(strings)

    def _read(self, data: bytes, options: pacsv.ConvertOptions, invalid: list[Any]) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=self.plan.parsed, use_threads=False),
            parse_options=self.plan.parse_options(recorder(invalid)),
            convert_options=options,
            memory_pool=self.pool,
        )

    def typed(self, strings: pa.Table | pa.RecordBatch) -> _Parsed:
        """``strings`` converted; the first value its column cannot hold stops it."""
        open_quote = _ends_in_a_line_break(strings)
        if TRAILING in strings.column_names:
            extra = strings.column(TRAILING)
            if extra.null_count != len(extra):
                index = next(i for i, value in enumerate(extra.to_pylist()) if value is not None)
                problem = f"it has a value after its last column: {extra[index].as_py()!r}"
                return _Parsed(None, open_quote, problem, index + 1)
        columns = []
        for name in self.plan.names:
            converted = types.convert(strings.column(name), self.plan.column_types[name])
            if isinstance(converted, types.Conflict):
                hint = "" if self.plan.declared else f" (its type was found in the file's first rows: {DECLARE})"
                as_type = self.plan.column_types[name]
                message = f"column {name!r}: {converted.value!r} {converted.reason} ({as_type}){hint}"
                return _Parsed(None, open_quote, message, converted.index + 1)
            columns.append(converted)
        return _Parsed(pa.Table.from_arrays(columns, schema=self.schema), open_quote)

    def stream(self, source: Readable) -> Iterable[pa.RecordBatch]:
        if self.plan.dialect.comment:
            source = Uncommented(source, self.plan.dialect.comment, self.plan.dialect.quote)
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=self.plan.parsed, block_size=self.block_size),
            parse_options=self.plan.parse_options(recorder([])),
            convert_options=self.plan.convert_options(),
            memory_pool=self.pool,
        )
        yield from reader


def _behind_the_writer() -> None:
    """A parsing thread yields the cores to the thread that cuts and encodes. That one thread is
    the transform's critical path (Parquet encodes on one thread), and at equal priority it got
    only its share of the cores beside the parsers, which then waited for it; behind it, they use
    what it leaves. Linux only: there a thread's id names it to ``setpriority``, elsewhere a
    process's. A sandbox that refuses it leaves the thread as it was."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + PARSER_NICENESS))


def _doubtful() -> Future[_Parsed | None]:
    """A chunk not to parse on its own: it stands in the queue as a doubt."""
    doubt: Future[_Parsed | None] = Future()
    doubt.set_result(None)
    return doubt


def _write_next(in_flight: deque[tuple[Chunk, Future[_Parsed | None]]], output: _Output) -> bool:
    """Write the oldest chunk's table; False (and the chunk kept) when its cut is in doubt."""
    _, parsed = in_flight[0]
    result = parsed.result()
    if result is None or result.open_quote:
        for _, later in in_flight:
            later.cancel()
        return False
    in_flight.popleft()
    output.write(result)
    return True


class _Output:
    """The Parquet writer, counting rows; a failed chunk is refused here, in file order, where
    the rows before it are known."""

    def __init__(self, sink: Writable, plan: Plan, compression: str) -> None:
        self.plan = plan
        schema = plan.schema()
        strings = [f.name for f in schema if pa.types.is_string(f.type)]
        self._writer = pq.ParquetWriter(
            sink, schema, compression=compression, use_dictionary=strings, memory_pool=memory_pool()
        )
        self.rows = 0
        self.open_quote = False
        """The last value written ends in a line break: what a quote left open leaves."""

    def write(self, parsed: _Parsed) -> None:
        if parsed.problem is not None:
            raise TransformRejected(f"{self.plan.key}: {where(parsed.row, self.rows)}: {parsed.problem}")
        table = parsed.table
        if table is not None and table.num_rows:
            self._writer.write(table, row_group_size=table.num_rows)
            self.rows += table.num_rows
            self.open_quote = parsed.open_quote

    def stream(self, source: Readable, parser: _Parser) -> None:
        batches = iter(parser.stream(source))
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except ARROW_ERRORS as exc:
                _, problem = parse_failure(exc, [])
                raise TransformRejected(f"{self.plan.key}: {where(0, self.rows)}: {problem}") from exc
            self.write(parser.typed(batch))

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
