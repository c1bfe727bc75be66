"""How a CSV is written: its dialect, found by DuckDB's sniffer on the file's first bytes.

Detection only: the rows are parsed by pyarrow (``csv_to_parquet.py``). DuckDB's ``sniff_csv``
was chosen on measurement over clevercsv and Python's ``csv.Sniffer`` (docs/csv-to-parquet.md):
it finds the delimiter (``,`` ``;`` ``|`` tab and others), the quote and escape characters, the
rows to skip before the header, a comment character, and whether the first row is a header; and
it names the columns the way DuckDB does (a header's names trimmed and made unique, ``a``,
``a_1``; ``column0``... for missing ones). It reads only the sample, so the choice is the same
whatever the file's size and wherever the transform runs. A file whose rows disagree on their
count of fields gets the dialect DuckDB gives it (often one column holding each line whole):
every value is kept, nothing is invented. Where DuckDB would instead skip the first rows as a
preamble, the transform refuses the file (``_csv_plan._require_preamble``). ``sniff_csv``
reads a path, so the sample is written to a temporary file (a Lambda's ``/tmp``, the worker's).
The Batch worker sniffs in a child process (``sniffing_in_a_child``): DuckDB then never enters
its own, whose peak is the job's memory.

A declared schema (``csv_schemas.py``) fixes any of these; the sniffer then finds the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from filepipe.errors import TransformRejected

EMPTY = "(empty)"
"""What sniff_csv reports for "no such character"."""
NEWLINES = {"\\r": "\r", "\\r\\n": "\r\n", "\\n": "\n"}
"""sniff_csv's NewLineDelimiter is written escaped (a backslash and a letter)."""
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ","
    quote: str | None = '"'
    escape: str | None = None
    """A character other than the quote that escapes one (``\\"``); ``None``: quotes are doubled."""
    comment: str | None = None
    skip: int = 0
    """Lines before the header (or the first row) that are not part of the table."""
    header: bool = True
    names: tuple[str, ...] = ()
    newline: str = "\n"

    def summary(self) -> dict[str, Any]:
        """What the output's summary says of the dialect (small, JSON-able)."""
        found: dict[str, Any] = {"delimiter": self.delimiter, "header": self.header}
        if self.skip:
            found["skipped_lines"] = self.skip
        if self.comment:
            found["comment"] = self.comment
        return found


def sniff(sample: bytes, key: str, fixed: dict[str, Any] | None = None) -> Dialect:
    """The dialect of ``sample`` (UTF-8, whole lines), as DuckDB's sniffer finds it; ``fixed``
    holds read_csv options a declared schema sets (``delim``, ``header``, ``skip``...)."""
    options = "".join(f", {name} = ${name}" for name in fixed or {})
    query = (
        "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, Columns "
        f"FROM sniff_csv($path{options})"
    )
    with tempfile.NamedTemporaryFile(suffix=".csv", prefix="filepipe-sniff-") as file:
        file.write(sample)
        file.flush()
        row = _sniffer(query, {"path": file.name, **(fixed or {})})
    if isinstance(row, str):  # DuckDB's error
        ragged = first_ragged_row(sample, _likeliest_delimiter(sample), '"', None, None)
        if ragged is not None:
            raise TransformRejected(
                f"{key}: {ragged}; no CSV dialect reads its rows as one table (DuckDB's sniffer found none)"
            )
        message = " ".join(row.replace(file.name, key).split())
        raise TransformRejected(f"{key}: its CSV dialect could not be detected: {message[:400]}")
    delimiter, quote, escape, newline, comment, skip, header, columns = row
    return Dialect(
        delimiter=delimiter,
        quote=_character(quote),
        escape=None if _character(escape) in (None, _character(quote)) else escape,
        comment=_character(comment),
        skip=int(skip),
        header=bool(header),
        names=tuple(column["name"] for column in columns),
        newline=NEWLINES.get(newline, "\n"),
    )


@dataclass(frozen=True)
class Ragged:
    """A row whose count of fields differs from the first row's (the header's)."""

    row: int
    """1-based, the first row (the header) excluded: the data row it would be."""
    expected: int
    got: int
    text: str

    def __str__(self) -> str:
        """In pyarrow's words, which the pipeline's messages have always used."""
        return f"row {self.row}: Expected {self.expected} columns, got {self.got}: {self.text[:100]!r}"


def first_ragged_row(
    sample: bytes, delimiter: str, quote: str | None, escape: str | None, comment: str | None
) -> Ragged | None:
    """The first row of ``sample`` with another count of fields than its first row, blank and
    comment lines aside (Python's csv module: this runs only on a file about to be refused)."""
    text = sample.decode("utf-8", errors="replace")
    stream = io.StringIO(text, newline="")
    if quote:
        reader = csv.reader(stream, delimiter=delimiter, quotechar=quote, escapechar=escape)
    else:
        reader = csv.reader(stream, delimiter=delimiter, escapechar=escape, quoting=csv.QUOTE_NONE)
    expected, row = None, 0
    for fields in reader:
        if not fields or not "".join(fields).strip() or (comment and fields[0].startswith(comment)):
            continue
        if expected is None:
            expected = len(fields)
            continue
        row += 1
        if len(fields) != expected:
            return Ragged(row, expected, len(fields), delimiter.join(fields))
    return None


def _likeliest_delimiter(sample: bytes) -> str:
    """The candidate that occurs most in the first line (``,`` on a tie or none)."""
    first = sample.split(b"\n", 1)[0]
    return max(",;|\t", key=lambda candidate: (first.count(candidate.encode()), candidate == ","))


def _character(found: str) -> str | None:
    return None if found in (EMPTY, "") else found


def _sniffer(query: str, params: dict[str, Any]) -> list[Any] | str:
    """``sniff_csv``'s row, or DuckDB's error message, from this process or from a child."""
    if _state.get("in_a_child"):
        return _in_a_child(query, params)
    import duckdb  # not at the top: a process that sniffs in a child never loads it

    try:
        row = _connection(duckdb).execute(query, params).fetchone()
    except duckdb.Error as exc:
        return str(exc)
    assert row is not None
    return list(row)


@contextlib.contextmanager
def sniffing_in_a_child() -> Iterator[None]:
    """Within the block, each sniff runs in a Python child process of its own, which exits as soon
    as it has answered. DuckDB's library and connection hold 55 to 70 MiB that a process never
    returns; the Batch worker converts one file per process and its peak is the job's memory, so
    it pays about 0.2 s per file to keep them out. A Lambda serves many files and keeps DuckDB
    loaded (``warm``)."""
    _state["in_a_child"] = True
    try:
        yield
    finally:
        _state.pop("in_a_child", None)


_CHILD = """
import json, sys
import duckdb
asked = json.load(sys.stdin)
try:
    reply = {"row": list(duckdb.connect(config=asked["config"]).execute(asked["query"], asked["params"]).fetchone())}
except duckdb.Error as exc:
    reply = {"error": str(exc)}
try:
    with open("/proc/self/status") as status:
        reply["peak_kib"] = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
except OSError:
    pass
json.dump(reply, sys.stdout)
"""
"""The child's whole program: it imports duckdb alone (not filepipe, not pyarrow), so that it is small."""
CHILD_SECONDS = 120
"""A sniff takes milliseconds and a child's start a fraction of a second; past this it is stuck."""


def _in_a_child(query: str, params: dict[str, Any]) -> list[Any] | str:
    asked = json.dumps({"config": CONFIG, "query": query, "params": params})
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=asked, capture_output=True, text=True, timeout=CHILD_SECONDS, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the CSV sniffer's child process exited {done.returncode}: {done.stderr.strip()[-400:]}")
    reply = json.loads(done.stdout)
    _state["child_peak_kib"] = max(_state.get("child_peak_kib", 0), reply.get("peak_kib", 0))
    return reply["error"] if "error" in reply else reply["row"]


def child_peak_mib() -> float:
    """The highest peak RSS of this process's sniffing children so far (0 if none ran): the
    benchmark reports it beside the worker's own."""
    return float(_state.get("child_peak_kib", 0)) / 1024


def warm() -> None:
    """Load DuckDB and connect now: a Lambda calls it at import, in its init phase, so that its
    first file does not pay for it."""
    import duckdb  # see _sniffer

    _connection(duckdb)


CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "threads": 1,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}
"""Sniffing needs one thread and no extension: none is fetched at run time (a Lambda has no
business downloading code), and connecting is faster without them."""
_state: dict[str, Any] = {}


def _connection(duckdb: Any) -> Any:
    """One DuckDB connection per process, on one thread: it is only asked to sniff (a few
    milliseconds), and connecting costs more than that."""
    with _LOCK:
        if "connection" not in _state or _state.get("pid") != os.getpid():
            _state["connection"] = duckdb.connect(config=CONFIG)
            _state["pid"] = os.getpid()
            atexit.register(_state["connection"].close)  # not left to the interpreter's teardown
        return _state["connection"].cursor()


def data_start(head: bytes, dialect: Dialect) -> int:
    """The offset in ``head`` where the data rows begin: after the skipped lines, blank and
    comment lines, and the header row (whose quoted values may span lines)."""
    newline = b"\r" if dialect.newline == "\r" else b"\n"
    quote = dialect.quote.encode() if dialect.quote else b""
    comment = dialect.comment.encode() if dialect.comment else None
    at = 0
    for _ in range(dialect.skip):
        at = _line_end(head, at, newline)
    if not dialect.header:
        return at
    while at < len(head):
        end = _line_end(head, at, newline)
        line = head[at:end].strip()
        if line and not (comment and line.startswith(comment)):
            break
        at = end
    end = _line_end(head, at, newline)
    while quote and head.count(quote, at, end) % 2 and end < len(head):
        end = _line_end(head, end, newline)
    return end


def _line_end(data: bytes, at: int, newline: bytes) -> int:
    found = data.find(newline, at)
    return len(data) if found < 0 else found + len(newline)


def strip_comments(data: bytes, comment: str, quote: str | None) -> bytes:
    """``data`` (whole lines) without its comment lines, and each line cut at a comment
    character outside quotes, as DuckDB reads a file with ``comment``."""
    mark = comment.encode()
    if mark not in data:
        return data
    quote_byte = quote.encode() if quote else b""
    kept = []
    for line in data.splitlines(keepends=True):
        if line.lstrip().startswith(mark):
            continue
        cut = _outside_quotes(line, mark, quote_byte)
        kept.append(line if cut < 0 else line[:cut] + line[len(line.rstrip(b"\r\n")) :])
    return b"".join(kept)


def _outside_quotes(line: bytes, mark: bytes, quote: bytes) -> int:
    """The first ``mark`` in ``line`` that is not inside a quoted value, or -1."""
    at = line.find(mark)
    while at >= 0:
        if not quote or line.count(quote, 0, at) % 2 == 0:
            return at
        at = line.find(mark, at + 1)
    return -1
