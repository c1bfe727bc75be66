"""Declared schemas for ``csv-to-parquet``: what the files under a key pattern hold.

They live in one file, ``csv_schemas.toml`` beside this module, which the Lambda and the Batch
worker both read (the image copies ``filepipe/``) and which :func:`validate` checks at synth
time, so a mistake fails the deployment rather than the files. An entry fixes what detection
would otherwise guess, and with ``columns`` it fixes the output's schema: every file of the
pattern gets the same column names and types, so one table reads them all, and a file that
breaks it fails with its row, column and value::

    [[schema]]
    pattern = "finance/*.csv"      # matched like the registry's RULES: case-insensitive, first match
    delimiter = ";"
    header = true
    skip = 2                       # lines before the header
    nulls = ["", "n/a"]
    encoding = "latin-1"           # any ASCII-compatible codec Python knows
    [schema.columns]               # every column, in the output's order
    account = "string"
    amount = "decimal(18,2)"
    booked = "date(%d.%m.%Y)"
    at = "timestamp(%Y-%m-%d %H:%M:%S)"

Types: ``string``, ``int64``, ``float64``, ``bool``, ``decimal(P,S)`` (P at most 38), ``date``
and ``timestamp`` (ISO 8601), ``timestamp_utc`` (ISO 8601 with an offset, kept in UTC), and
``date(FORMAT)``, ``timestamp(FORMAT)``, ``timestamp_utc(FORMAT)`` with a ``strptime`` format.
Declared timestamps are in microseconds, which every reader of Parquet takes.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pyarrow as pa

from filepipe.transforms._csv_types import MAX_PRECISION, ColumnType

SCHEMAS = Path(__file__).with_name("csv_schemas.toml")
KEYS = {"pattern", "delimiter", "quote", "escape", "comment", "header", "skip", "nulls", "encoding", "columns"}
SIMPLE_TYPES = {
    "string": ColumnType(pa.string()),
    "int64": ColumnType(pa.int64()),
    "float64": ColumnType(pa.float64()),
    "bool": ColumnType(pa.bool_()),
    "date": ColumnType(pa.date32()),
    "timestamp": ColumnType(pa.timestamp("us")),
    "timestamp_utc": ColumnType(pa.timestamp("us", "UTC")),
}
DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
FORMATTED = re.compile(r"(date|timestamp|timestamp_utc)\((.+)\)", re.DOTALL)
ASCII_PROBE = "\n\r,;|\t\"'#\\ azAZ09"


class SchemaError(ValueError):
    """The declared schemas file is not valid: the message names the entry and the field."""


@dataclass(frozen=True)
class Declared:
    """One entry of ``csv_schemas.toml``."""

    pattern: str
    delimiter: str | None = None
    quote: str | None = None
    """``""``: the file has no quoting."""
    escape: str | None = None
    comment: str | None = None
    header: bool | None = None
    skip: int | None = None
    nulls: tuple[str, ...] = ("",)
    encoding: str = "utf-8"
    columns: dict[str, ColumnType] = field(default_factory=dict)

    def matches(self, key: str) -> bool:
        return fnmatchcase(key.lower(), self.pattern.lower())

    def sniff_options(self) -> dict[str, Any]:
        """The DuckDB ``sniff_csv`` options this entry fixes; the sniffer finds the others."""
        options = {
            "delim": self.delimiter,
            "quote": self.quote,
            "escape": self.escape,
            "comment": self.comment,
            "header": self.header,
            "skip": self.skip,
        }
        return {name: value for name, value in options.items() if value is not None}

    @property
    def transcoded(self) -> bool:
        return codecs.lookup(self.encoding).name != "utf-8"


def validate(path: Path = SCHEMAS) -> None:
    """Raise :class:`SchemaError` if ``path`` is not a valid declared-schemas file.

    Called at synth time, so that a bad entry fails the deployment::

        from filepipe.transforms.csv_schemas import validate
        validate()  # filepipe/transforms/csv_schemas.toml
    """
    load(path)


def load(path: Path = SCHEMAS) -> tuple[Declared, ...]:
    """The entries of ``path``, in order; :class:`SchemaError` for anything not understood."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    unknown = set(document) - {"schema"}
    if unknown:
        raise SchemaError(f"{path}: unknown top-level key(s) {sorted(unknown)}; entries are [[schema]] tables")
    entries = document.get("schema", [])
    if not isinstance(entries, list):
        raise SchemaError(f"{path}: 'schema' must be a list of tables ([[schema]])")
    declared = tuple(_entry(entry, f"{path}, schema {number}") for number, entry in enumerate(entries, 1))
    patterns = [entry.pattern.lower() for entry in declared]
    for pattern in patterns:
        if patterns.count(pattern) > 1:
            raise SchemaError(f"{path}: pattern {pattern!r} is declared twice; the second would never apply")
    return declared


def for_key(key: str, declared: tuple[Declared, ...]) -> Declared | None:
    """The first entry whose pattern matches ``key``, as the registry's RULES match."""
    return next((entry for entry in declared if entry.matches(key)), None)


def parse_type(text: str) -> ColumnType:
    """A declared column type (``decimal(18,2)``, ``date(%d.%m.%Y)``...); ValueError if unknown."""
    text = text.strip()
    if text in SIMPLE_TYPES:
        return SIMPLE_TYPES[text]
    decimal = DECIMAL.fullmatch(text)
    if decimal:
        precision, scale = int(decimal[1]), int(decimal[2])
        if not 1 <= precision <= MAX_PRECISION or scale > precision:
            raise ValueError(f"{text!r}: a decimal's precision is 1 to {MAX_PRECISION}, its scale at most that")
        return ColumnType(pa.decimal128(precision, scale))
    formatted = FORMATTED.fullmatch(text)
    if formatted and "%" in formatted[2]:
        return ColumnType(SIMPLE_TYPES[formatted[1]].arrow, formatted[2])
    raise ValueError(f"{text!r} is not a type: {', '.join(SIMPLE_TYPES)}, decimal(P,S), date(FORMAT), ...")


def _entry(entry: Any, where: str) -> Declared:
    if not isinstance(entry, dict):
        raise SchemaError(f"{where}: must be a table")
    pattern = entry.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise SchemaError(f"{where}: 'pattern' (a key pattern such as \"finance/*.csv\") is required")
    where = f"{where} ({pattern!r})"
    unknown = set(entry) - KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(KEYS)}")
    try:
        return Declared(
            pattern=pattern,
            delimiter=_character(entry, "delimiter", empty=False),
            quote=_character(entry, "quote", empty=True),
            escape=_character(entry, "escape", empty=True),
            comment=_character(entry, "comment", empty=False),
            header=_typed(entry, "header", bool),
            skip=_skip(entry),
            nulls=_nulls(entry),
            encoding=_encoding(entry),
            columns=_columns(entry),
        )
    except ValueError as exc:
        raise SchemaError(f"{where}: {exc}") from exc


def _typed(entry: dict[str, Any], name: str, kind: type) -> Any:
    value = entry.get(name)
    if value is not None and type(value) is not kind:
        raise ValueError(f"{name!r} must be a {kind.__name__}, not {value!r}")
    return value


def _character(entry: dict[str, Any], name: str, empty: bool) -> str | None:
    value = _typed(entry, name, str)
    if value is None:
        return None
    if len(value) > 1 or value in ("\r", "\n") or (not value and not empty):
        allowed = "one character" + (', or "" for none' if empty else "")
        raise ValueError(f"{name!r} must be {allowed}, not {value!r}")
    return str(value)


def _skip(entry: dict[str, Any]) -> int | None:
    skip = _typed(entry, "skip", int)
    if skip is not None and skip < 0:
        raise ValueError(f"'skip' counts lines: it cannot be {skip}")
    return skip


def _nulls(entry: dict[str, Any]) -> tuple[str, ...]:
    nulls = entry.get("nulls", [""])
    if not isinstance(nulls, list) or not all(isinstance(value, str) for value in nulls):
        raise ValueError(f"'nulls' must be a list of strings, not {nulls!r}")
    return tuple(nulls)


def _encoding(entry: dict[str, Any]) -> str:
    encoding = _typed(entry, "encoding", str) or "utf-8"
    try:
        codec = codecs.lookup(encoding)
    except LookupError as exc:
        raise ValueError(f"'encoding': Python knows no codec {encoding!r}") from exc
    try:
        compatible = ASCII_PROBE.encode(codec.name) == ASCII_PROBE.encode("ascii")
    except UnicodeError:
        compatible = False
    if not compatible:
        raise ValueError(f"'encoding': {encoding!r} is not ASCII-compatible (rows are cut at line breaks as bytes)")
    return encoding


def _columns(entry: dict[str, Any]) -> dict[str, ColumnType]:
    columns = entry.get("columns", {})
    if not isinstance(columns, dict):
        raise ValueError("'columns' must be a table of name = \"type\"")
    seen: set[str] = set()
    parsed = {}
    for name, text in columns.items():
        if not name.strip() or name.lower() in seen:
            raise ValueError(f"column names must be non-empty and unique (ignoring case): {name!r}")
        seen.add(name.lower())
        if not isinstance(text, str):
            raise ValueError(f"column {name!r}: its type must be a string, not {text!r}")
        try:
            parsed[name] = parse_type(text)
        except ValueError as exc:
            raise ValueError(f"column {name!r}: {exc}") from exc
    return parsed
