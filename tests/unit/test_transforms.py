"""The built-in transforms and the registry that picks them."""

from __future__ import annotations

import hashlib
import io
import json

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
        assert table.column("score").to_pylist() == [1.5, 2.25, 3.0]
        assert summary == {"rows": 3, "columns": ["id", "name", "score"]}

    def test_streams_in_blocks(self) -> None:
        rows = "".join(f"{i},{i * 2},row-{i}\n" for i in range(50_000))
        data = ("a,b,c\n" + rows).encode()
        sink = io.BytesIO()
        summary = CsvToParquet(block_size=64 * 1024).run(io.BytesIO(data), sink, SourceInfo("k", len(data)))
        assert summary["rows"] == 50_000
        metadata = pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata
        assert metadata.num_rows == 50_000
        assert metadata.num_row_groups > 1, "written batch by batch, not as one table"

    def test_legitimate_quoting_is_kept(self) -> None:
        """Quoted line breaks and doubled quotes inside a value, and a literal quote in an
        unquoted one, are CSV: the strictness refuses only an unclosed quote."""
        output, summary = run("csv-to-parquet", b'a,b\n1,"two\nlines"\n2,"say ""hi"""\n3,5" screen\n')
        assert pq.read_table(io.BytesIO(output)).column("b").to_pylist() == ["two\nlines", 'say "hi"', '5" screen']
        assert summary["rows"] == 3

    def test_same_input_same_bytes(self) -> None:
        data = b"a,b\n1,x\n2,y\n"
        assert run("csv-to-parquet", data)[0] == run("csv-to-parquet", data)[0]

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"a,b\n1,2,3\n", "Expected 2 columns"),
            (b"a,b\n1,2\n3\n", "Expected 2 columns, got 1"),
            (b"", "Empty CSV"),
            (b"a,b\n\xff\xfe,1\n", "column 'a' is not UTF-8 text"),
            (b'a,b\n1,"x\n2,y\n3,z\n', "a quoted field is never closed"),
            (b"a,b\n1,x\x00y\n", "NUL byte"),
        ],
        ids=["too-many", "too-few", "empty", "not-utf-8", "open-quote", "nul"],
    )
    def test_malformed_input_is_rejected_with_a_clear_message(self, data: bytes, message: str) -> None:
        with pytest.raises(TransformRejected, match=message) as caught:
            run("csv-to-parquet", data, key="bad.csv")
        assert "bad.csv" in str(caught.value)


def test_a_summary_is_cut_to_fit_the_execution() -> None:
    from filepipe.reports import MAX_SUMMARY_BYTES, bounded_summary

    small = {"rows": 3, "columns": ["a", "b"]}
    assert bounded_summary(small) == small
    wide = {"rows": 3, "columns": [f"column number {i}" for i in range(10_000)]}
    cut = bounded_summary(wide)
    assert len(json.dumps(cut)) <= MAX_SUMMARY_BYTES
    assert cut["truncated"] is True and cut["rows"] == 3 and cut["columns"][-1] == "… 9980 more"
