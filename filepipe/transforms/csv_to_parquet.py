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
- blank lines, and lines of whitespace only, are skipped, as DuckDB skips them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
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
from filepipe.transforms._csv_dialect import Dialect, data_start, first_ragged_row, sniff, strip_comments
from filepipe.transforms.csv_schemas import Declared, SchemaError, for_key, load

BLOCK_SIZE = 1 * MiB
"""The streaming reader's block, where the file cannot be cut into chunks."""
SAMPLE_SIZE = 2 * MiB
"""The dialect and the column types are found in the file's first bytes, this many."""
SNIFF_LINES = 20_480
"""DuckDB's sniffer reads this many rows of a file (its ``sample_size``): it is given no more."""
CHUNK_SIZE = 4 * MiB
"""Bytes of CSV per parsed chunk, and so per row group."""
MAX_CARRY = 64 * MiB
"""A chunk that finds no row boundary within this many bytes gives up cutting (see _csv_chunks)."""
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
TRAILING = "\x00trailing"
"""The empty field a delimiter at the end of every data row (not the header's) leaves."""
BOM = b"\xef\xbb\xbf"
DECLARE = "declare the column's type for this key in filepipe/transforms/csv_schemas.toml"


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
    version = "3"
    """3: dialect and header detected, exact types (decimals, leading zeros, big integers), declared
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
            plan = Plan.of(_sample(head, self._sample_size, whole=len(head) < wanted), info.key, declared)
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
            schemas = self._schemas if self._schemas is not None else _declared_schemas()
        except SchemaError as exc:
            raise TransformRejected(f"{key}: the declared CSV schemas cannot be read: {exc}") from exc
        return for_key(key, schemas)

    def _convert(self, queue: Iterable[Chunk], chunks: RowChunks, output: _Output, parser: _Parser) -> None:
        threads = self._threads or cores() + 1
        in_flight: deque[tuple[Chunk, Future[_Parsed | None]]] = deque()
        with ThreadPoolExecutor(threads, thread_name_prefix="csv-parse") as pool:
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


_cache: dict[str, tuple[Declared, ...]] = {}


def _declared_schemas() -> tuple[Declared, ...]:
    """``csv_schemas.toml``, read once per process (it changes only with a deployment)."""
    if "schemas" not in _cache:
        _cache["schemas"] = load()
    return _cache["schemas"]


def _sample(head: bytes, size: int, whole: bool) -> bytes:
    """The first ``size`` bytes of ``head``, cut after their last line break unless they are the
    whole file: the sniffer and the type inference see whole lines only."""
    if whole and len(head) <= size:
        return head
    end = head.rfind(b"\n", 0, size)
    return head[: end + 1] if end >= 0 else head[:size]


def _first_lines(sample: bytes, lines: int, block: int = 64 * 1024) -> bytes:
    """The first ``lines`` lines of ``sample`` (all of it if fewer), and more up to a line
    break outside ``"`` quotes: a sample cut inside a quoted value would mislead the sniffer.
    Line breaks are counted a block at a time (``bytes.count`` runs at memory speed)."""
    at, seen = 0, 0
    while at < len(sample):
        found = sample.count(b"\n", at, at + block)
        if seen + found >= lines:
            break
        seen, at = seen + found, at + block
    else:
        return sample
    for _ in range(lines - seen):
        at = sample.find(b"\n", at) + 1
    quotes = sample.count(b'"', 0, at)
    while quotes % 2:
        after = sample.find(b"\n", at) + 1
        if after == 0:
            return sample
        quotes, at = quotes + sample.count(b'"', at, after), after
    return sample[:at]


@dataclass(frozen=True)
class Plan:
    """What the sample decided: the dialect, the output's columns and types, how to parse."""

    dialect: Dialect
    key: str
    names: list[str]
    """The output's columns, in order."""
    parsed: list[str]
    """The names pyarrow parses into, in the file's order (with ``TRAILING`` if any)."""
    column_types: dict[str, types.ColumnType]
    nulls: tuple[str, ...] = ("",)
    declared: bool = False

    @classmethod
    def of(cls, sample: bytes, key: str, declared: Declared | None) -> Plan:
        _require_utf8(sample, key, declared)
        fixed = declared.sniff_options() if declared else {}
        dialect = _usual_quote(sniff(_first_lines(sample, SNIFF_LINES), key, fixed), sample, fixed)
        if "skip" not in fixed:
            _require_preamble(sample, dialect, key)
        names = _declared_names(dialect, key, declared)
        body = sample[data_start(sample, dialect) :]
        if dialect.comment:
            body = strip_comments(body, dialect.comment, dialect.quote)
        nulls = declared.nulls if declared else ("",)
        in_file = names if declared is not None and declared.columns and not dialect.header else list(dialect.names)
        strings, parsed = _sample_rows(body, dialect, in_file, nulls, key)
        if declared is not None and declared.columns:
            column_types = dict(declared.columns)
        else:
            column_types = {name: types.infer(strings.column(name)) for name in names}
        return cls(dialect, key, names, parsed, column_types, nulls, declared is not None and bool(declared.columns))

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, self.column_types[name].arrow) for name in self.names])

    def parse_options(self, on_invalid: Callable[[Any], str]) -> pacsv.ParseOptions:
        return _parse_options(self.dialect, on_invalid)

    def convert_options(self) -> pacsv.ConvertOptions:
        """Each column parsed as ``_csv_types.parsed_as`` says (a ``TRAILING`` one as text)."""
        parsed = {name: types.parsed_as(self.column_types.get(name, types.STRING)) for name in self.parsed}
        return _text_options(self.parsed, self.nulls, parsed)

    def text_options(self) -> pacsv.ConvertOptions:
        return _text_options(self.parsed, self.nulls)


def _require_utf8(sample: bytes, key: str, declared: Declared | None) -> None:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        how = "its declared encoding" if declared and declared.transcoded else "UTF-8 (declare its encoding)"
        raise TransformRejected(
            f"{key}: byte {sample[exc.start : exc.start + 1]!r} at offset {exc.start} is not {how}"
        ) from exc


def _usual_quote(dialect: Dialect, sample: bytes, fixed: dict[str, Any]) -> Dialect:
    """A sample without a single ``"`` says nothing of quoting: values quoted later in the file
    are then read as CSV quotes them. Where DuckDB saw quotes and chose not to treat them as
    such, its choice stands."""
    if dialect.quote is None and "quote" not in fixed and b'"' not in sample:
        return Dialect(**{**dialect.__dict__, "quote": '"'})
    return dialect


def _require_preamble(sample: bytes, dialect: Dialect, key: str) -> None:
    """Refuse to skip lines that look like rows. DuckDB's sniffer skips the first lines of a file
    whose rows disagree on their count of fields, to read the rest as a table: that drops data.
    Blank and comment lines may be skipped, and one line holding the delimiter (a title, a note)
    before a header; more than that is refused, unless a declared schema says to skip them."""
    newline = b"\r" if dialect.newline == "\r" else b"\n"
    lines = sample.split(newline, dialect.skip)[: dialect.skip]
    comment = dialect.comment.encode() if dialect.comment else None
    delimiter = dialect.delimiter.encode()
    rows = [line for line in lines if delimiter in line and not (comment and line.startswith(comment))]
    if rows and (len(rows) > 1 or not dialect.header):
        ragged = first_ragged_row(sample, dialect.delimiter, dialect.quote, dialect.escape, dialect.comment)
        where = f"{ragged}; its" if ragged else "its"
        raise TransformRejected(
            f"{key}: {where} rows disagree on their count of fields, and reading it as a table would drop "
            f"its first {dialect.skip} line(s), {len(rows)} of them rows; declare a skip for this key in "
            "filepipe/transforms/csv_schemas.toml if they are a preamble"
        )


def _declared_names(dialect: Dialect, key: str, declared: Declared | None) -> list[str]:
    """The output's columns: the file's (as named by the sniffer) or, when declared, the
    declared ones, which a header must name exactly (in any order)."""
    found = list(dialect.names)
    if declared is None or not declared.columns:
        return found
    names = list(declared.columns)
    if not dialect.header:
        if len(names) != len(found):
            raise TransformRejected(f"{key}: its rows have {len(found)} fields; the declared schema has {len(names)}")
        return names
    missing = [name for name in names if name not in found]
    extra = [name for name in found if name not in declared.columns]
    if missing or extra:
        raise TransformRejected(
            f"{key}: its header does not match the declared schema {declared.pattern!r}: "
            f"missing {missing}, not declared {extra}"
        )
    return names


def _sample_rows(
    body: bytes, dialect: Dialect, names: list[str], nulls: tuple[str, ...], key: str
) -> tuple[pa.Table, list[str]]:
    """The sample's rows as text, and the names to parse every chunk into: with ``TRAILING``
    when each data row ends in one more, empty, field (``1,2,3,`` under ``a,b,c``)."""
    invalid: list[Any] = []
    try:
        return _read_text(body, dialect, names, nulls, invalid), names
    except ARROW_ERRORS as exc:
        first = next((row for row in invalid if row is not None), None)
        if first is not None and first.actual_columns == len(names) + 1:
            with_trailing = [*names, TRAILING]
            try:
                rows = _read_text(body, dialect, with_trailing, nulls, [])
            except ARROW_ERRORS:
                rows = None
            if rows is not None and rows.column(TRAILING).null_count == rows.num_rows:
                return rows.drop_columns([TRAILING]), with_trailing
        row, problem = _parse_failure(exc, invalid)
        raise TransformRejected(f"{key}: {_where(row, 0)}: {problem}") from exc


def _read_text(body: bytes, dialect: Dialect, names: list[str], nulls: tuple[str, ...], invalid: list[Any]) -> pa.Table:
    if not body or body.isspace():
        return _no_rows(names)
    return pacsv.read_csv(
        pa.py_buffer(body),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=_parse_options(dialect, _recorder(invalid)),
        convert_options=_text_options(names, nulls),
        memory_pool=memory_pool(),
    )


def _no_rows(names: list[str]) -> pa.Table:
    """What pyarrow would give for no rows, had it not refused to read an empty CSV."""
    return pa.table({name: pa.array([], pa.string()) for name in names})


def _parse_options(dialect: Dialect, on_invalid: Callable[[Any], str]) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char=dialect.quote or False,
        double_quote=dialect.escape is None,
        escape_char=dialect.escape or False,
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid,
    )


def _text_options(
    names: list[str], nulls: tuple[str, ...], column_types: dict[str, pa.DataType] | None = None
) -> pacsv.ConvertOptions:
    """Every column as text unless ``column_types`` says otherwise; ``nulls`` are null."""
    return pacsv.ConvertOptions(
        column_types=column_types or dict.fromkeys(names, pa.string()),
        null_values=list(nulls),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=types.TRUE_VALUES,
        false_values=types.FALSE_VALUES,
    )


def _recorder(invalid: list[Any]) -> Callable[[Any], str]:
    """An ``invalid_row_handler``: a line of whitespace only is skipped (as a blank line is);
    any other row with the wrong count of fields is recorded, and stops the parse."""

    def handle(row: Any) -> str:
        if not row.text.strip():
            invalid.append(None)
            return "skip"
        invalid.append(row)
        return "error"

    return handle


def _parse_failure(exc: Exception, invalid: list[Any]) -> tuple[int, str]:
    """What stopped a parse, and its data row within what was parsed (1-based; 0: not known).
    ``invalid`` is what ``_recorder`` saw: ``None`` for each line of whitespace it skipped."""
    row = next((found for found in invalid if found is not None), None)
    if row is None or row.number is None:
        text = str(exc)
        return 0, "a value is not UTF-8 text (declare its encoding)" if "invalid UTF8" in text else text
    skipped = invalid.index(row)
    problem = f"Expected {row.expected_columns} columns, got {row.actual_columns}: {row.text[:100]!r}"
    return row.number - skipped, problem


def _where(row: int, before: int) -> str:
    """A data row of the file (1-based, header excluded), from one within a piece of it."""
    return f"row {before + row}" if row else f"after row {before}"


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
        if not data or data.isspace():
            return self.typed(_no_rows(self.plan.parsed))
        try:
            return self.typed(self._read(data, self.plan.convert_options(), []))
        except ARROW_ERRORS:
            pass  # a value pyarrow would not convert, or a row of the wrong width: find which, as text
        invalid: list[Any] = []
        try:
            strings = self._read(data, self.plan.text_options(), invalid)
        except ARROW_ERRORS as exc:
            row, problem = _parse_failure(exc, invalid)
            return _Parsed(None, problem=problem, row=row)
        return self.typed(strings)

    def _read(self, data: bytes, options: pacsv.ConvertOptions, invalid: list[Any]) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=self.plan.parsed, use_threads=False),
            parse_options=self.plan.parse_options(_recorder(invalid)),
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
            parse_options=self.plan.parse_options(_recorder([])),
            convert_options=self.plan.convert_options(),
            memory_pool=self.pool,
        )
        yield from reader


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
            raise TransformRejected(f"{self.plan.key}: {_where(parsed.row, self.rows)}: {parsed.problem}")
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
                _, problem = _parse_failure(exc, [])
                raise TransformRejected(f"{self.plan.key}: {_where(0, self.rows)}: {problem}") from exc
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
