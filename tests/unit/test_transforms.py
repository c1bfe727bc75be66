"""The built-in transforms and the registry that picks them."""

from __future__ import annotations

import hashlib
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from filepipe.errors import TransformRejected
from filepipe.transforms import TRANSFORMS, SourceInfo, transform_for
from filepipe.transforms.csv_to_parquet import CsvToParquet
from filepipe.transforms.manifest import detect_content_type


def run(name: str, data: bytes, key: str = "k") -> tuple[bytes, dict[str, object]]:
    sink = io.BytesIO()
    summary = TRANSFORMS[name].run(io.BytesIO(data), sink, SourceInfo(key=key, size=len(data)))
    return sink.getvalue(), summary


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("data/x.csv", "csv-to-parquet"),
        ("DATA/X.CSV", "csv-to-parquet"),
        ("x.csv.gz", "manifest"),
        ("photo.jpg", "manifest"),
        ("no-extension", "manifest"),
        ("folder/", "manifest"),
    ],
)
def test_registry_picks_by_key_pattern(key: str, name: str) -> None:
    assert transform_for(key).name == name


class TestManifest:
    def test_size_hash_and_type(self) -> None:
        data = b"%PDF-1.7\n" + bytes(range(256)) * 5000
        output, summary = run("manifest", data, key="docs/a.pdf")
        manifest = json.loads(output)
        assert manifest == {
            "key": "docs/a.pdf",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "contentType": "application/pdf",
        }
        assert summary["sha256"] == manifest["sha256"]

    def test_zero_bytes(self) -> None:
        manifest = json.loads(run("manifest", b"")[0])
        assert manifest["size"] == 0
        assert manifest["sha256"] == hashlib.sha256(b"").hexdigest()
        assert manifest["contentType"] == "application/x-empty"

    def test_output_is_deterministic(self) -> None:
        assert run("manifest", b"same")[0] == run("manifest", b"same")[0]

    @pytest.mark.parametrize(
        ("head", "expected"),
        [
            (b"\x89PNG\r\n\x1a\n....", "image/png"),
            (b"\xff\xd8\xff\xe0", "image/jpeg"),
            (b"PK\x03\x04", "application/zip"),
            (b"\x1f\x8b\x08", "application/gzip"),
            (b"PAR1....", "application/vnd.apache.parquet"),
            (b'  {"a": 1}', "application/json"),
            (b"<?xml version='1.0'?>", "application/xml"),
            (b"plain words\n", "text/plain"),
            ("caf\u00e9".encode()[:-1], "text/plain"),
            (b"\x00\x01\x02\xff\xfe", "application/octet-stream"),
        ],
    )
    def test_content_type_detection(self, head: bytes, expected: str) -> None:
        assert detect_content_type(head) == expected


class TestCsvToParquet:
    def test_converts_with_inferred_types(self) -> None:
        output, summary = run("csv-to-parquet", b"id,name,score\n1,ann,1.5\n2,bob,2.25\n3,\xc3\xa9ve,3\n")
        table = pq.read_table(io.BytesIO(output))
        assert table.column_names == ["id", "name", "score"]
        assert table.column("id").to_pylist() == [1, 2, 3]
        assert table.column("name").to_pylist() == ["ann", "bob", "éve"]
        assert table.column("score").to_pylist() == [Decimal("1.50"), Decimal("2.25"), Decimal("3.00")]
        assert table.schema.field("score").type == pa.decimal128(18, 2)
        assert summary == {
            "rows": 3,
            "columns": ["id", "name", "score"],
            "dialect": {"delimiter": ",", "header": True},
        }

    def test_parses_chunks_in_parallel_into_row_groups_in_file_order(self) -> None:
        rows = "".join(f'{i},{i * 2},"row {i}, with a comma"\n' for i in range(50_000))
        data = ("a,b,c\n" + rows).encode()
        outputs = []
        for threads in (1, 4):
            sink = io.BytesIO()
            transform = CsvToParquet(chunk_size=64 * 1024, threads=threads)
            summary = transform.run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
            outputs.append(sink.getvalue())
            assert summary["rows"] == 50_000
        assert outputs[0] == outputs[1], "the same bytes whatever the number of cores"
        parquet = pq.ParquetFile(io.BytesIO(outputs[0]))
        assert parquet.metadata.num_row_groups > 10, "a row group per chunk, not one table"
        table = parquet.read()
        assert table.column("a").to_pylist() == list(range(50_000))
        assert table.column("c")[49_999].as_py() == "row 49999, with a comma"

    def test_quoted_line_breaks_across_chunk_cuts_stay_in_their_value(self) -> None:
        """Chunks are cut only between rows, never inside a quoted value."""
        rows = "".join(f'{i},"line one\nline two of {i}"\n' for i in range(20_000))
        data = ("id,text\n" + rows).encode()
        output, _ = run("csv-to-parquet", data)
        sink = io.BytesIO()
        CsvToParquet(chunk_size=4096, threads=2).run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
        for produced in (output, sink.getvalue()):
            table = pq.read_table(io.BytesIO(produced))
            assert table.num_rows == 20_000
            assert table.column("text")[12_345].as_py() == "line one\nline two of 12345"

    def test_a_literal_quote_in_an_unquoted_value_falls_back_to_one_stream(self) -> None:
        """A stray quote defeats the cutting (no even count again): the rest is read as one
        stream, with the same result as pyarrow's own reader."""
        rows = "".join(f'{i},{i}" screen\n' for i in range(30_000))
        data = ("id,size\n" + rows).encode()
        sink = io.BytesIO()
        summary = CsvToParquet(chunk_size=4096, threads=2).run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
        expected = pacsv.read_csv(io.BytesIO(data))
        assert summary["rows"] == expected.num_rows == 30_000
        assert (
            pq.read_table(io.BytesIO(sink.getvalue())).column("size").to_pylist() == expected.column("size").to_pylist()
        )

    def test_a_stray_quote_before_the_first_cut_still_reads_the_header_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from filepipe.transforms import csv_to_parquet

        monkeypatch.setattr(csv_to_parquet, "MAX_CARRY", 8192)
        rows = '0,5" screen\n' + "".join(f"{i},{i} inches\n" for i in range(1, 5_000))
        data = ("id,size\n" + rows).encode()
        chunks = csv_to_parquet.RowChunks(io.BytesIO(data), 1024, 8192)
        assert [c.data for c in chunks] == [b"id,size\n"] and chunks.undivided, "no cut after the stray quote"
        sink = io.BytesIO()
        CsvToParquet(chunk_size=1024, threads=2).run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
        table = pq.read_table(io.BytesIO(sink.getvalue()))
        assert table.num_rows == 5_000 and table.column("id").to_pylist()[:2] == [0, 1]
        assert table.column("size")[0].as_py() == '5" screen'

    @pytest.mark.parametrize("chunk_size", [1024, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024])
    def test_types_come_from_the_sample_whatever_the_chunk_size(self, chunk_size: int) -> None:
        """An integer column with a decimal after the sample is refused, naming the row, the
        column and the value, whatever the chunking: never a crash, never a changed value."""
        rows = "".join(f"{i},{i * 3}\n" for i in range(200_000))
        data = ("a,b\n" + rows + "1.5,2\n").encode()
        assert len(data) > 2 * 1024 * 1024
        message = r"k: row 200001: column 'a': '1.5' is not an integer within int64 \(int64\) \(its type was found"
        with pytest.raises(TransformRejected, match=message):
            CsvToParquet(chunk_size=chunk_size).run(io.BytesIO(data), io.BytesIO(), SourceInfo("k", len(data)))
        good = ("a,b\n" + rows).encode()
        sink = io.BytesIO()
        summary = CsvToParquet(chunk_size=chunk_size).run(io.BytesIO(good), sink, SourceInfo("k", len(good)))
        assert summary["rows"] == 200_000
        assert pq.read_table(io.BytesIO(sink.getvalue())).schema.field("a").type == "int64"

    def test_same_input_same_bytes(self) -> None:
        data = b"a,b\n1,x\n2,y\n"
        assert run("csv-to-parquet", data)[0] == run("csv-to-parquet", data)[0]

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"a,b\n1,2,3\n4,5,6\n", "row 1: Expected 2 columns, got 3: '1,2,3'; its rows disagree"),
            (b"a,b\n1,2\n3,4\n5,6,7\n", "its rows disagree on their count of fields"),
            (b"a,b\n" + b"1,2\n" * 5000 + b"3,4,5\n", "row 5001: Expected 2 columns, got 3: '3,4,5'"),
            (b"a,b\n\xff\xfe,1\n", "byte b'\\\\xff' at offset 4 is not UTF-8"),
            (b"a,b\n" + b'1,"x"\n' * 5000 + b'2,"y\n3,z\n', "a quoted field is never closed"),
            (b"a,b\n1,x\x00y\n", "NUL byte"),
        ],
        ids=["too-many", "too-few-late", "too-many-late", "not-utf-8", "open-quote", "nul"],
    )
    def test_malformed_input_is_rejected_with_a_clear_message(self, data: bytes, message: str) -> None:
        """Found in the sample, or (with a sample of 4 KiB) after it: refused either way."""
        with pytest.raises(TransformRejected, match=message) as caught:
            CsvToParquet(sample_size=4096, chunk_size=8192).run(
                io.BytesIO(data), io.BytesIO(), SourceInfo("bad.csv", 1)
            )
        assert str(caught.value).startswith("bad.csv: ")


def test_a_summary_is_cut_to_fit_the_execution() -> None:
    from filepipe.reports import MAX_SUMMARY_BYTES, bounded_summary

    small = {"rows": 3, "columns": ["a", "b"]}
    assert bounded_summary(small) == small
    wide = {"rows": 3, "columns": [f"column number {i}" for i in range(10_000)]}
    cut = bounded_summary(wide)
    assert len(json.dumps(cut)) <= MAX_SUMMARY_BYTES
    assert cut["truncated"] is True and cut["rows"] == 3 and cut["columns"][-1] == "… 9980 more"
