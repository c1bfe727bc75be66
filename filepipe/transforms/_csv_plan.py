"""The plan of a CSV's conversion, made from its first 2 MiB: its dialect, the output's columns
and types, and how pyarrow parses it (``csv_to_parquet.py`` carries it out)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from filepipe.errors import TransformRejected
from filepipe.transforms import _csv_types as types
from filepipe.transforms._csv_dialect import Dialect, data_start, first_ragged_row, sniff, strip_comments
from filepipe.transforms.csv_schemas import Declared, load

SNIFF_LINES = 20_480
"""DuckDB's sniffer reads this many rows of a file (its ``sample_size``): it is given no more."""
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
TRAILING = "\x00trailing"
"""The empty field a delimiter at the end of every data row (not the header's) leaves."""


def memory_pool() -> pa.MemoryPool:
    """jemalloc where this pyarrow has it: 30 MiB less peak RSS than its default (mimalloc) for
    a 1 GiB CSV at the same speed, measured here; fragments of freed chunks are returned sooner."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


_cache: dict[str, tuple[Declared, ...]] = {}


def declared_schemas() -> tuple[Declared, ...]:
    """``csv_schemas.toml``, read once per process (it changes only with a deployment)."""
    if "schemas" not in _cache:
        _cache["schemas"] = load()
    return _cache["schemas"]


def sample_of(head: bytes, size: int, whole: bool) -> bytes:
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
        if declared is not None or cores() < 2:
            return cls._made(sample, key, declared, None)
        with ThreadPoolExecutor(1, thread_name_prefix="csv-guess") as guesser:
            return cls._made(sample, key, declared, guesser.submit(_Guess.of, sample))

    @classmethod
    def _made(cls, sample: bytes, key: str, declared: Declared | None, guess: Future[_Guess | None] | None) -> Plan:
        fixed = declared.sniff_options() if declared else {}
        dialect = _usual_quote(sniff(_first_lines(sample, SNIFF_LINES), key, fixed), sample, fixed)
        if "skip" not in fixed:
            _require_preamble(sample, dialect, key)
        names = _declared_names(dialect, key, declared)
        guessed = guess.result() if guess is not None else None
        if guessed is not None and guessed.holds(dialect):
            parsed = [*names, TRAILING] if guessed.trailing else names
            return cls(dialect, key, names, parsed, dict(zip(names, guessed.types, strict=True)))
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
        return _parse_options(self.dialect, on_invalid, len(self.parsed))

    def convert_options(self) -> pacsv.ConvertOptions:
        """Each column parsed as ``_csv_types.parsed_as`` says (a ``TRAILING`` one as text)."""
        parsed = {name: types.parsed_as(self.column_types.get(name, types.STRING)) for name in self.parsed}
        return _text_options(self.parsed, self.nulls, parsed)

    def text_options(self) -> pacsv.ConvertOptions:
        return _text_options(self.parsed, self.nulls)


USUAL = Dialect()
"""Comma-separated, ``"`` quotes doubled inside quotes, a header, nothing to skip."""


@dataclass(frozen=True)
class _Guess:
    """The sample's column types as if it were written in the ``USUAL`` dialect, found on a
    second core while DuckDB's sniffer runs on the first (the two are most of a plan's 40 ms).
    Used only when the sniffer finds that dialect and as many columns: the sample's parse and
    inference then depend on nothing else, so the plan is the one made after the sniff."""

    columns: int
    trailing: bool
    types: list[types.ColumnType]

    @classmethod
    def of(cls, sample: bytes) -> _Guess | None:
        try:
            start = data_start(sample, USUAL)
            header = next(csv.reader(io.StringIO(sample[:start].decode(), newline="")), [])
            names = [f"c{at}" for at in range(len(header))]
            strings, parsed = _sample_rows(sample[start:], USUAL, names, ("",), "")
            return cls(len(names), len(parsed) > len(names), [types.infer(strings.column(name)) for name in names])
        except Exception:  # the guess was wrong, or the file is refused: the plan after the sniff says why
            return None

    def holds(self, dialect: Dialect) -> bool:
        same = replace(dialect, names=(), newline="\n") == USUAL and dialect.newline != "\r"
        return same and self.columns == len(dialect.names) > 0


def cores() -> int:
    """The cores this process may run on (a container's or a Lambda's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
        row, problem = parse_failure(exc, invalid)
        raise TransformRejected(f"{key}: {where(row, 0)}: {problem}") from exc


def _read_text(body: bytes, dialect: Dialect, names: list[str], nulls: tuple[str, ...], invalid: list[Any]) -> pa.Table:
    if holds_no_rows(body, len(names)):
        return no_rows(names)
    return pacsv.read_csv(
        pa.py_buffer(body),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=_parse_options(dialect, recorder(invalid), len(names)),
        convert_options=_text_options(names, nulls),
        memory_pool=memory_pool(),
    )


def holds_no_rows(data: bytes, columns: int) -> bool:
    """Whether ``data`` has no row: nothing, or (with two columns or more) only blank lines."""
    return not data or (columns > 1 and data.isspace())


def no_rows(names: list[str]) -> pa.Table:
    """What pyarrow would give for no rows, had it not refused to read an empty CSV."""
    return pa.table({name: pa.array([], pa.string()) for name in names})


def _parse_options(dialect: Dialect, on_invalid: Callable[[Any], str], columns: int) -> pacsv.ParseOptions:
    """Blank lines are skipped, as DuckDB skips them, except in a table of one column: there an
    empty line is a row whose one value is empty (null), as DuckDB reads it."""
    return pacsv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char=dialect.quote or False,
        double_quote=dialect.escape is None,
        escape_char=dialect.escape or False,
        ignore_empty_lines=columns > 1,
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


def recorder(invalid: list[Any]) -> Callable[[Any], str]:
    """An ``invalid_row_handler``: a line of whitespace only is skipped (as a blank line is);
    any other row with the wrong count of fields is recorded, and stops the parse."""

    def handle(row: Any) -> str:
        if not row.text.strip():
            invalid.append(None)
            return "skip"
        invalid.append(row)
        return "error"

    return handle


def parse_failure(exc: Exception, invalid: list[Any]) -> tuple[int, str]:
    """What stopped a parse, and its data row within what was parsed (1-based; 0: not known).
    ``invalid`` is what ``recorder`` saw: ``None`` for each line of whitespace it skipped."""
    row = next((found for found in invalid if found is not None), None)
    if row is None or row.number is None:
        text = str(exc)
        return 0, "a value is not UTF-8 text (declare its encoding)" if "invalid UTF8" in text else text
    skipped = invalid.index(row)
    problem = f"Expected {row.expected_columns} columns, got {row.actual_columns}: {row.text[:100]!r}"
    return row.number - skipped, problem


def where(row: int, before: int) -> str:
    """A data row of the file (1-based, header excluded), from one within a piece of it."""
    return f"row {before + row}" if row else f"after row {before}"
