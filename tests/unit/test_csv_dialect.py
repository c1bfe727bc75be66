"""CSV dialects as DuckDB's sniffer finds them, and the few byte-level helpers around it."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest

from filepipe.errors import TransformRejected
from filepipe.transforms._csv_dialect import (
    Dialect,
    Ragged,
    data_start,
    first_ragged_row,
    sniff,
    sniffing_in_a_child,
    strip_comments,
)


@pytest.mark.parametrize(
    ("sample", "delimiter", "header", "names"),
    [
        (b"a;b\n1;2\n3;4\n", ";", True, ("a", "b")),
        (b"a|b\n1|2\n", "|", True, ("a", "b")),
        (b"a\tb\nx\t2\ny\t3\n", "\t", True, ("a", "b")),
        (b"1,2,3\n4,5,6\n", ",", False, ("column0", "column1", "column2")),
        (b"a,a,,b\n1,2,3,4\n", ",", True, ("a", "a_1", "column2", "b")),
        (b"A,a\n1,2\n", ",", True, ("A", "a_1")),
        (b" x , y \n1,2\n", ",", True, ("x", "y")),
    ],
    ids=["semicolon", "pipe", "tab", "no-header", "duplicate-and-empty-names", "names-ignore-case", "trimmed"],
)
def test_sniffing_finds_the_delimiter_header_and_duckdb_names(
    sample: bytes, delimiter: str, header: bool, names: tuple[str, ...]
) -> None:
    found = sniff(sample, "k")
    assert (found.delimiter, found.header, found.names) == (delimiter, header, names)


def test_twelve_unnamed_columns_are_numbered_with_two_digits() -> None:
    sample = b"".join(b",".join(str(i * j).encode() for i in range(12)) + b"\n" for j in range(1, 4))
    assert sniff(sample, "k").names[:2] == ("column00", "column01")


def test_preamble_comments_and_quote_characters() -> None:
    preamble = sniff(b"Report 2026\nby a team\n\na;b\n1;2\n3;4\n", "k")
    assert (preamble.skip, preamble.header, preamble.names) == (3, True, ("a", "b"))
    commented = sniff(b"# made by hand\na,b\n1,2\n# later\n3,4\n", "k")
    assert commented.comment == "#"
    single = sniff(b"a,b\n'x,y',2\n'z',3\n", "k")
    assert single.quote == "'"
    escaped = sniff(b'a,b\n"x\\"y",2\n"z",3\n', "k")
    assert (escaped.quote, escaped.escape) == ('"', "\\")


def test_fixed_options_are_kept_and_the_rest_sniffed() -> None:
    found = sniff(b"a;b\n1;2\n", "k", {"header": False})
    assert (found.delimiter, found.header, found.names) == (";", False, ("column0", "column1"))


def test_an_undetectable_dialect_is_refused_naming_its_first_ragged_row() -> None:
    with pytest.raises(TransformRejected, match=r"^data/x\.csv: row 2: Expected 2 columns, got 3: '1,2,3'; no CSV"):
        sniff(b"a,b\n1,2\n" + b"1,2,3\n4\n" * 3, "data/x.csv", {"delim": ",", "quote": '"'})


def test_an_undetectable_dialect_without_ragged_rows_is_refused_in_duckdbs_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from filepipe.transforms import _csv_dialect

    monkeypatch.setattr(_csv_dialect, "first_ragged_row", lambda *args: None)
    with pytest.raises(TransformRejected, match=r"^data/x\.csv: its CSV dialect could not be detected") as caught:
        sniff(b"a,b\n1,2\n" + b"1,2,3\n4\n" * 3, "data/x.csv", {"delim": ",", "quote": '"'})
    assert "filepipe-sniff" not in str(caught.value), "the key, not a temporary file"


@pytest.mark.parametrize(
    ("sample", "found"),
    [
        (b"a,b\n1,2\n3,4,5\n", Ragged(2, 2, 3, "3,4,5")),
        (b'a,b\n"1,2",3\n4\n', Ragged(2, 2, 1, "4")),
        (b"a,b\n\n# note, here\n1,2\n", None),
        (b"a;b\n1;2\n", None),
    ],
    ids=["long", "quoted-delimiter", "blank-and-comment", "consistent"],
)
def test_the_first_ragged_row_is_counted_after_the_header(sample: bytes, found: Ragged | None) -> None:
    assert first_ragged_row(sample, "," if b"," in sample else ";", '"', None, "#") == found


@pytest.mark.parametrize(
    ("head", "dialect", "start"),
    [
        (b"a,b\n1,2\n", Dialect(), 4),
        (b"1,2\n", Dialect(header=False), 0),
        (b"title\n\na,b\n1,2\n", Dialect(skip=2), 11),
        (b"# note\n\na,b\n1,2\n", Dialect(comment="#"), 12),
        (b'"a\nb",c\n1,2\n', Dialect(), 8),
        (b"a,b\r1,2\r", Dialect(newline="\r"), 4),
        (b"a,b", Dialect(), 3),
    ],
    ids=["header", "no-header", "skip", "comments-before-header", "quoted-line-break", "cr", "header-only"],
)
def test_data_starts_after_the_preamble_and_header(head: bytes, dialect: Dialect, start: int) -> None:
    assert data_start(head, dialect) == start


def test_comments_are_stripped_outside_quotes_only() -> None:
    data = b'# whole line\n1,2 # after values\n  # indented\n3,"a # in quotes"\n4,5\r\n'
    assert strip_comments(data, "#", '"') == b'1,2 \n3,"a # in quotes"\n4,5\r\n'
    assert strip_comments(b"1,2\n", "#", '"') == b"1,2\n"


SAMPLES = [
    b"a;b\n1;2\n3;4\n",
    b"Report 2026\nby a team\n\na;b\n1;2\n3;4\n",
    b"# made by hand\na,b\n1,2\n# later\n3,4\n",
    b'a,b\n"x\\"y",2\n"z",3\n',
    b"1,2,3\n4,5,6\n",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_child_process_finds_the_same_dialect(sample: bytes) -> None:
    here = sniff(sample, "k", {"header": True} if sample.startswith(b"a;") else None)
    with sniffing_in_a_child():
        there = sniff(sample, "k", {"header": True} if sample.startswith(b"a;") else None)
    assert there == here


def test_a_child_process_refuses_in_the_same_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from filepipe.transforms import _csv_dialect

    monkeypatch.setattr(_csv_dialect, "first_ragged_row", lambda *args: None)
    refused = []
    for where in (contextlib.nullcontext(), sniffing_in_a_child()):
        with where, pytest.raises(TransformRejected) as caught:
            sniff(b"a,b\n1,2\n" + b"1,2,3\n4\n" * 3, "data/x.csv", {"delim": ",", "quote": '"'})
        refused.append(str(caught.value))
    assert refused[0] == refused[1]
    assert refused[1].startswith("data/x.csv: its CSV dialect could not be detected")


def test_a_child_that_dies_is_an_error_not_a_dialect(monkeypatch: pytest.MonkeyPatch) -> None:
    from filepipe.transforms import _csv_dialect

    monkeypatch.setattr(_csv_dialect, "_CHILD", "import sys; sys.stderr.write('out of memory'); sys.exit(137)")
    with sniffing_in_a_child(), pytest.raises(RuntimeError, match="exited 137: out of memory"):
        sniff(b"a,b\n1,2\n", "k")


def test_a_process_that_sniffs_in_children_never_loads_duckdb() -> None:
    """What the Batch worker gains: a whole conversion with DuckDB out of its process."""
    program = """
import io, sys
from filepipe.transforms import SourceInfo, sniffing_in_a_child
from filepipe.transforms._csv_dialect import child_peak_mib
from filepipe.transforms.csv_to_parquet import CsvToParquet
data = b"id;zip\\n1;02134\\n2;10001\\n"
with sniffing_in_a_child():
    summary = CsvToParquet().run(io.BytesIO(data), io.BytesIO(), SourceInfo("k.csv", len(data)))
print(summary["rows"], "duckdb" in sys.modules, child_peak_mib() > 10)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["2", "False", "True"], done.stderr
