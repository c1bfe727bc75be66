"""``csv-to-parquet``: a CSV streamed into a Parquet file with pyarrow's native reader.

pyarrow's reader is lenient where leniency loses data silently, so the transform is stricter:
- a quote opened and never closed swallows every later row into one value: the file is refused
  (an odd number of quote characters, and a last value holding a line break);
- a NUL byte is not text (often a UTF-16 file, or binary data): refused;
- a row with too many or too few fields, or a column that is not UTF-8: refused (pyarrow's own);
- blank lines are skipped, as every CSV reader skips them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from filepipe.errors import TransformRejected
from filepipe.storage import MiB
from filepipe.transforms._base import Readable, SourceInfo, Writable

BLOCK_SIZE = 1 * MiB
"""Bytes of CSV per record batch; column types are inferred from the first block."""


class CsvToParquet:
    name = "csv-to-parquet"
    output_name = "data.parquet"
    content_type = "application/vnd.apache.parquet"

    def __init__(self, block_size: int = BLOCK_SIZE, compression: str = "zstd") -> None:
        self._block_size = block_size
        self._compression = compression

    def run(self, source: Readable, sink: Writable, info: SourceInfo) -> dict[str, Any]:
        rows, watched, last = 0, _Watched(source), None
        try:
            reader = pacsv.open_csv(watched, read_options=pacsv.ReadOptions(block_size=self._block_size))
            _require_text(reader.schema, info)
            with pq.ParquetWriter(sink, reader.schema, compression=self._compression) as writer:
                for batch in reader:
                    if watched.nul:
                        raise TransformRejected(f"{info.key}: a NUL byte near row {rows + 1}: this is not CSV text")
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    last = batch if batch.num_rows else last
                if watched.quotes % 2 and _ends_in_a_line_break(last):
                    raise TransformRejected(
                        f"{info.key}: a quoted field is never closed, so every row after it would be one value"
                    )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise TransformRejected(f"{info.key} is not a CSV this transform can read: {exc}") from exc
        return {"rows": rows, "columns": reader.schema.names}


class _Watched:
    """The source, counting quote characters and looking for NUL bytes as pyarrow reads it
    (at C speed: ``bytes.count`` and ``in`` on each block)."""

    def __init__(self, source: Readable) -> None:
        self._source, self.quotes, self.nul = source, 0, False

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._source.read(size)
        self.quotes += chunk.count(b'"')
        self.nul = self.nul or b"\x00" in chunk
        return chunk

    @property
    def closed(self) -> bool:
        return False


def _ends_in_a_line_break(batch: pa.RecordBatch | None) -> bool:
    """Whether the file's last value holds a line break: what an unclosed quote leaves."""
    if batch is None or not batch.num_columns:
        return False
    value = batch.column(batch.num_columns - 1)[batch.num_rows - 1].as_py()
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def _require_text(schema: pa.Schema, info: SourceInfo) -> None:
    """pyarrow reads invalid UTF-8 as binary columns; a CSV of another encoding is refused."""
    for name, type_ in zip(schema.names, schema.types, strict=True):
        if pa.types.is_binary(type_):
            raise TransformRejected(f"{info.key}: column {name!r} is not UTF-8 text")
