"""``csv-to-parquet``: a CSV streamed into a Parquet file with pyarrow's native reader."""

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
        rows = 0
        try:
            reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=self._block_size))
            _require_text(reader.schema, info)
            with pq.ParquetWriter(sink, reader.schema, compression=self._compression) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise TransformRejected(f"{info.key} is not a CSV this transform can read: {exc}") from exc
        return {"rows": rows, "columns": reader.schema.names}


def _require_text(schema: pa.Schema, info: SourceInfo) -> None:
    """pyarrow reads invalid UTF-8 as binary columns; a CSV of another encoding is refused."""
    for name, type_ in zip(schema.names, schema.types, strict=True):
        if pa.types.is_binary(type_):
            raise TransformRejected(f"{info.key}: column {name!r} is not UTF-8 text")
