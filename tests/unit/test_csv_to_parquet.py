"""csv-to-parquet on real-world shapes: detected dialects, exact values, declared schemas."""

from __future__ import annotations

import io
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filepipe.errors import TransformRejected
from filepipe.transforms import SourceInfo
from filepipe.transforms.csv_schemas import load
from filepipe.transforms.csv_to_parquet import CsvToParquet


def convert(data: bytes, key: str = "in.csv", **options: int) -> tuple[pa.Table, dict[str, object]]:
    sink = io.BytesIO()
    summary = CsvToParquet(**options).run(io.BytesIO(data), sink, SourceInfo(key, len(data)))  # type: ignore[arg-type]
    return pq.read_table(io.BytesIO(sink.getvalue())), summary


@pytest.mark.parametrize(
    ("data", "rows", "names"),
    [
        (b"id;name\n1;ann\n2;bob\n", [(1, "ann"), (2, "bob")], ["id", "name"]),
        (b"id|name\n1|ann\n", [(1, "ann")], ["id", "name"]),
        (b"id\tname\n1\tann\n", [(1, "ann")], ["id", "name"]),
        (b"1,ann\n2,bob\n", [(1, "ann"), (2, "bob")], ["column0", "column1"]),
        (b"Exported 2026-01-31\n\nid,name\n1,ann\n", [(1, "ann")], ["id", "name"]),
        (b"# made by hand\nid,name\n1,ann\n# a note\n2,bob\n", [(1, "ann"), (2, "bob")], ["id", "name"]),
        (b"id,name,\n1,ann,\n", [(1, "ann", None)], ["id", "name", "column2"]),
        (b"id,name\n1,ann,\n2,bob,\n", [(1, "ann"), (2, "bob")], ["id", "name"]),
        (b"id,name\n1,ann\n\n\n2,bob\n", [(1, "ann"), (2, "bob")], ["id", "name"]),
        (b"a,a,,b\n1,2,3,4\n", [(1, 2, 3, 4)], ["a", "a_1", "column2", "b"]),
        (b"\xef\xbb\xbfid,name\r\n1,ann\r\n", [(1, "ann")], ["id", "name"]),
        (b"id,name\r1,ann\r2,bob\r", [(1, "ann"), (2, "bob")], ["id", "name"]),
    ],
    ids=[
        "semicolon",
        "pipe",
        "tab",
        "no-header",
        "preamble",
        "comments",
        "trailing-delimiter-everywhere",
        "trailing-delimiter-in-rows",
        "blank-lines",
        "duplicate-and-empty-names",
        "bom-crlf",
        "cr",
    ],
)
def test_dialects_and_headers_are_detected(data: bytes, rows: list[tuple[object, ...]], names: list[str]) -> None:
    table, summary = convert(data)
    assert table.column_names == names == summary["columns"]
    assert [tuple(row.values()) for row in table.to_pylist()] == rows


def test_values_are_never_changed() -> None:
    data = b"zip,account,amount,big\n02134,0012,19.99,12345678901234567890\n10001,7,-0.5,3\n"
    table, _ = convert(data)
    assert table.schema.types == [pa.string(), pa.string(), pa.decimal128(18, 2), pa.decimal128(38, 0)]
    assert table.to_pylist()[0] == {
        "zip": "02134",
        "account": "0012",
        "amount": Decimal("19.99"),
        "big": Decimal("12345678901234567890"),
    }


@pytest.mark.parametrize(
    ("data", "types"),
    [
        (b"", {"column0": pa.string()}),
        (b"a,b,c\n", {"a": pa.string(), "b": pa.string(), "c": pa.string()}),
    ],
    ids=["empty", "header-only"],
)
def test_a_file_without_rows_gives_a_valid_parquet_file_with_its_columns(
    data: bytes, types: dict[str, pa.DataType]
) -> None:
    table, summary = convert(data)
    assert dict(zip(table.column_names, table.schema.types, strict=True)) == types
    assert table.num_rows == summary["rows"] == 0


@pytest.mark.parametrize(
    ("late", "message"),
    [
        ("00123,x", r"row 3001: column 'id': '00123' has a leading zero that a number would lose \(int64\)"),
        ("1.5,x", r"row 3001: column 'id': '1.5' is not an integer within int64"),
        ("7,", None),
    ],
    ids=["leading-zero", "decimal", "null-is-fine"],
)
def test_late_evidence_fails_with_row_column_and_value_or_passes(late: str, message: str | None) -> None:
    data = ("id,name\n" + "".join(f"{i},n{i}\n" for i in range(1, 3001)) + late + "\n").encode()
    options = {"sample_size": 1024, "chunk_size": 4096, "threads": 2}
    if message is None:
        table, _ = convert(data, "in.csv", **options)
        assert table.column("id").to_pylist()[-1] == 7 and table.column("name").to_pylist()[-1] is None
        return
    with pytest.raises(TransformRejected, match=message):
        convert(data, "in.csv", **options)


def test_a_line_of_whitespace_after_the_sample_is_skipped_as_a_blank_line() -> None:
    data = ("id,name\n" + "".join(f"{i},n{i}\n" for i in range(3000)) + " \t\n3000,last\n").encode()
    table, _ = convert(data, sample_size=1024, chunk_size=4096)
    assert table.num_rows == 3001 and table.column("name")[-1].as_py() == "last"


def test_the_output_is_the_same_bytes_whatever_the_threads() -> None:
    rows = "".join(f'{i:05d};{i}.{i % 100:02d};"x;{i}"\n' for i in range(30_000))
    data = ("zip;amount;note\n" + rows).encode()
    outputs = set()
    for threads in (1, 2, 5):
        sink = io.BytesIO()
        CsvToParquet(chunk_size=16 * 1024, threads=threads).run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
        outputs.add(sink.getvalue())
    assert len(outputs) == 1
    table = pq.read_table(io.BytesIO(outputs.pop()))
    assert table.column("zip")[7].as_py() == "00007" and table.column("note")[7].as_py() == "x;7"


DECLARED = """
[[schema]]
pattern = "finance/*.csv"
delimiter = ";"
skip = 1
nulls = ["", "n/a"]
encoding = "latin-1"
[schema.columns]
account = "string"
amount = "decimal(12,2)"
booked = "date(%d.%m.%Y)"

[[schema]]
pattern = "raw/*.csv"
header = false
[schema.columns]
a = "int64"
b = "string"
"""


@pytest.fixture
def declared(tmp_path: Path) -> CsvToParquet:
    path = tmp_path / "csv_schemas.toml"
    path.write_text(DECLARED, encoding="utf-8")
    return CsvToParquet(schemas=load(path))


def run_declared(transform: CsvToParquet, key: str, data: bytes) -> tuple[pa.Table, dict[str, object]]:
    sink = io.BytesIO()
    summary = transform.run(io.BytesIO(data), sink, SourceInfo(key, len(data)))
    return pq.read_table(io.BytesIO(sink.getvalue())), summary


def test_a_declared_schema_gives_every_file_of_its_pattern_the_same_schema(declared: CsvToParquet) -> None:
    first = "Konto export\naccount;amount;booked\n0042;19,5;31.01.2026\n".replace("19,5", "19.5")
    second = "Bank: Zürich\nbooked;account;amount\nn/a;7;3\n"
    one, summary = run_declared(declared, "finance/jan.csv", first.encode("latin-1"))
    two, _ = run_declared(declared, "finance/feb.csv", second.encode("latin-1"))
    assert one.schema == two.schema
    assert one.schema.types == [pa.string(), pa.decimal128(12, 2), pa.date32()]
    assert one.to_pylist()[0]["account"] == "0042" and str(one.to_pylist()[0]["booked"]) == "2026-01-31"
    assert two.to_pylist() == [{"account": "7", "amount": Decimal("3.00"), "booked": None}]
    assert summary["schema"] == "finance/*.csv"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "x\naccount;amount;booked\n1;2.50;01.01.2026\n2;2.505;01.01.2026\n",
            r"finance/x.csv: row 2: column 'amount': '2.505' is not a decimal with at most 10 digits before",
        ),
        ("x\naccount;amount;booked\n1;2;2026-01-01\n", r"row 1: column 'booked': '2026-01-01' is not a date32"),
        ("x\naccount;amount\n1;2\n", r"does not match the declared schema 'finance/\*.csv': missing \['booked'\]"),
    ],
    ids=["scale", "format", "missing-column"],
)
def test_a_file_breaking_its_declared_schema_fails_with_row_column_and_value(
    declared: CsvToParquet, data: str, message: str
) -> None:
    with pytest.raises(TransformRejected, match=message):
        run_declared(declared, "finance/x.csv", data.encode("latin-1"))


def test_declared_names_for_a_file_without_header(declared: CsvToParquet) -> None:
    table, _ = run_declared(declared, "raw/1.csv", b"1,x\n2,y\n")
    assert table.column_names == ["a", "b"] and table.column("a").to_pylist() == [1, 2]
    with pytest.raises(TransformRejected, match="its rows have 3 fields; the declared schema has 2"):
        run_declared(declared, "raw/2.csv", b"1,x,3\n")


EDGE_CASES = {
    "header-trailing-delimiter-only": b"a,b,c,\n1,2,3\n4,5,6\n",
    "backslash-escape": b'a,b\n"x\\"y",2\n"z\\\\",3\n"w",4\n',
    "single-quotes": b"a;b\n'x;y';2\n'z''q';3\n",
    "inline-comment": b"a,b\n1,2 # note\n3,4\n#c\n5,6\n",
    "all-quoted": b'"a","b"\n"1","2"\n"3","4"\n',
    "only-delimiters": b"a,b,c\n,,\n1,2,3\n",
    "whitespace-line-one-column": b"a\n1\n \n2\n",
    "no-final-newline": b"a,b\n1,2\n3,4",
    "quoted-line-break-in-header": b'"a\nx",b\n1,2\n3,4\n',
    "space-delimited": b"a b c\n1 2 3\n4 5 6\n",
    "colon-delimited": b"a:b:c\n1:2:3\n4:5:6\n",
    "crlf-quoted-line-break": b'a,b\r\n"x\r\ny",2\r\n"z",3\r\n',
    "blank-lines-first": b"\n\na,b\n1,2\n3,4\n",
    "one-line-no-newline": b"a,b,c",
    "one-value": b"x",
    "literal-quote-in-value": b'a,b\n5" screen,2\n6" tv,3\n',
    "empty-quoted": b'a,b\n"",1\n"x",2\n',
    "decimal-comma": b"a;b\n1,5;2\n3,25;4\n",
    "tab-quoted": b'a\tb\n"x\ty"\t1\n"z"\t2\n',
    "names-differing-in-case": b"Name,name,NAME\n1,2,3\n",
    "numeric-header": b"1,2,3\n4,5,6\n7,8,9\n",
    "date-header": b"2020-01-01,2020-01-02\n1,2\n3,4\n",
    "pipe-and-spaces": b"a | b\n1 | 2\n3 | 4\n",
    "bom-without-header": b"\xef\xbb\xbf1,2\n3,4\n",
    "quote-then-text": b'a,b\n"x"y,1\n"z",2\n',
    "null-words": b"a,b\nNULL,1\nNA,2\n",
    "short-last-row": b"a,b,c\n1,2,3\n4,5,6\n7,8\n",
    "comment-with-delimiters": b"# comment; with; semis\na;b\n1;2\n",
    "sep-line": b"sep=;\na;b\n1;2\n",
    "one-column-blank-lines": b"a\n1\n\n2\n\n\n",
    "one-column-no-header-blank-line": b"1\n\n2\n",
    "one-column-blank-lines-crlf": b"a\r\n1\r\n\r\n2\r\n",
}


def test_in_one_column_a_blank_line_is_a_null_row_in_every_chunk() -> None:
    """As DuckDB reads it: with one column an empty line is a row whose value is empty, where
    with two or more it is skipped; chunks made of blank lines alone keep their rows."""
    data = b"a\n" + b"x\n" * 3000 + b"\n" * 5000 + b"y\n"
    table, summary = convert(data, sample_size=1024, chunk_size=2048)
    values = table.column("a").to_pylist()
    assert summary["rows"] == 8001 and values.count(None) == 5000 and values[-1] == "y"
    two, _ = convert(b"a,b\n" + b"1,2\n" * 3000 + b"\n" * 5000 + b"3,4\n", sample_size=1024, chunk_size=2048)
    assert two.num_rows == 3001


@pytest.mark.parametrize("data", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_come_out_with_duckdbs_rows_and_columns(data: bytes, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "edge.csv"
    path.write_bytes(data)
    reference = duckdb.connect().sql("SELECT * FROM read_csv($path)", params={"path": str(path)}).to_arrow_table()
    table, _ = convert(data)
    assert (table.num_rows, table.num_columns) == (reference.num_rows, reference.num_columns)


def test_the_sniffer_gets_whole_rows_up_to_its_sample_size() -> None:
    from filepipe.transforms._csv_plan import _first_lines

    assert _first_lines(b"a\nb\nc\n", 2) == b"a\nb\n"
    assert _first_lines(b"a\nb\n", 5) == b"a\nb\n"
    assert _first_lines(b'a\n"b\nc"\nd\n', 2) == b'a\n"b\nc"\n', "not cut inside a quoted value"
    assert _first_lines(b'a\n"b\nc', 2) == b'a\n"b\nc'


def test_an_escaped_quote_is_read_as_one_stream_past_the_sample() -> None:
    """Escaped quotes defeat the cutting by quote parity: such a file is parsed as one stream."""
    rows = "".join(f'{i},"say \\"hi\\" {i}"\n' for i in range(50_000))
    table, summary = convert(("id,text\n" + rows).encode(), sample_size=4096, chunk_size=8192)
    assert summary["rows"] == 50_000 and table.column("text")[49_999].as_py() == 'say "hi" 49999'


def test_comment_lines_after_the_sample_are_dropped_in_every_chunk() -> None:
    rows = "".join(f"{i},n{i}\n" + ("# note\n" if i % 1000 == 0 else "") for i in range(50_000))
    table, summary = convert(("# head\nid,name\n" + rows).encode(), sample_size=4096, chunk_size=8192)
    assert summary["rows"] == 50_000 and summary["dialect"] == {"delimiter": ",", "header": True, "comment": "#"}
    assert table.column("id").to_pylist() == list(range(50_000))


CSV_ALPHABET = ",;|\t\"'\\#\n\r 0123456789.-+eETtruefalsNA:xyzé"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=CSV_ALPHABET, max_size=300))
def test_any_text_is_converted_or_refused_never_crashes(text: str) -> None:
    """Whatever the bytes: a valid Parquet file with unique, non-empty names, or a refusal."""
    data = text.encode()
    try:
        table, summary = convert(data)
    except TransformRejected as exc:
        assert str(exc).startswith("in.csv")
        return
    names = table.column_names
    assert all(names) and len({name.lower() for name in names}) == len(names)
    assert table.num_rows == summary["rows"]


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_the_parsing_threads_run_behind_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread that cuts and encodes is the critical path: the parsers yield the cores to it."""
    from filepipe.transforms import csv_to_parquet

    seen: dict[str, set[int]] = {"parser": set(), "writer": set()}
    chunk, write = csv_to_parquet._Parser.chunk, csv_to_parquet._Output.write

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def parsing(self: Any, data: bytes) -> Any:
        seen["parser"].add(niceness())
        return chunk(self, data)

    def writing(self: Any, parsed: Any) -> None:
        seen["writer"].add(niceness())
        write(self, parsed)

    monkeypatch.setattr(csv_to_parquet._Parser, "chunk", parsing)
    monkeypatch.setattr(csv_to_parquet._Output, "write", writing)
    before = niceness()
    data = b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i) for i in range(200_000))
    table, _ = convert(data)
    assert table.num_rows == 200_000
    assert seen == {"parser": {min(19, before + csv_to_parquet.PARSER_NICENESS)}, "writer": {before}}
    assert niceness() == before


GUESSABLE = {
    "usual": b"id,zip,amount\n1,02134,1.50\n2,10001,2.25\n",
    "crlf": b"id,name\r\n1,ann\r\n2,bob\r\n",
    "trailing": b"id,name\n1,ann,\n2,bob,\n",
    "semicolon": b"id;name\n1;ann\n",
    "no-header": b"1,2\n3,4\n",
    "preamble": b"Exported 2026-01-31\n\nid,name\n1,ann\n",
    "ragged": b"a,b\n1,2\n1,2,3\n",
    **EDGE_CASES,
}


@pytest.mark.parametrize("data", GUESSABLE.values(), ids=GUESSABLE.keys())
def test_the_plan_guessed_beside_the_sniffer_is_the_plan_made_after_it(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan found on a second core while DuckDB sniffs (``_Guess``) is used only when it is the
    one the sniff would have led to: the same dialect, columns, types, or the same refusal."""
    from filepipe.transforms import _csv_plan

    monkeypatch.setattr(_csv_plan, "cores", lambda: 2)
    outcomes = []
    for plan in (lambda: _csv_plan.Plan.of(data, "k", None), lambda: _csv_plan.Plan._made(data, "k", None, None)):
        try:
            outcomes.append(plan())
        except TransformRejected as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    ("data", "reads"), [(GUESSABLE["usual"], 1), (GUESSABLE["trailing"], 1), (GUESSABLE["semicolon"], 2)]
)
def test_a_usual_csv_is_read_once_for_its_plan(data: bytes, reads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from filepipe.transforms import _csv_plan

    calls = []
    sample_rows = _csv_plan._sample_rows
    monkeypatch.setattr(_csv_plan, "cores", lambda: 2)
    monkeypatch.setattr(_csv_plan, "_sample_rows", lambda *args: calls.append(args) or sample_rows(*args))
    _csv_plan.Plan.of(data, "k", None)
    assert len(calls) == reads


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=CSV_ALPHABET, max_size=300))
def test_any_text_gets_the_same_plan_with_or_without_the_guess(text: str) -> None:
    from filepipe.transforms import _csv_plan

    outcomes = []
    for guessing in (True, False):
        try:
            with ThreadPoolExecutor(1) as guesser:
                guess = guesser.submit(_csv_plan._Guess.of, text.encode()) if guessing else None
                outcomes.append(_csv_plan.Plan._made(text.encode(), "k", None, guess))
        except TransformRejected as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
