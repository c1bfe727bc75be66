"""Part arithmetic, ranged reads, multipart writes and server-side copies."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from filepipe.storage import (
    MAX_OBJECT_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    GiB,
    MiB,
    MultipartWriter,
    PartialCopy,
    RangeReader,
    byte_ranges,
    copy_version,
    growing_part_size,
    part_size_for,
)
from tests.conftest import Faulty, keys, read


class TestArithmetic:
    @given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1000, max_value=10**6))
    def test_ranges_cover_every_byte_once_in_order(self, total: int, part: int) -> None:
        ranges = list(byte_ranges(total, part))
        covered = [b for first, last in ranges for b in (first, last)]
        assert covered == sorted(covered)
        assert sum(last - first + 1 for first, last in ranges) == total
        assert all(last - first + 1 <= part for first, last in ranges)
        if total:
            assert ranges[0][0] == 0 and ranges[-1][1] == total - 1

    def test_zero_part_size_is_refused(self) -> None:
        with pytest.raises(ValueError):
            list(byte_ranges(10, 0))

    @pytest.mark.parametrize(
        ("total", "expected"),
        [
            (0, 64 * MiB),
            (100 * GiB, 64 * MiB),
            (1000 * GiB, 103 * MiB),
            (5000 * GiB, 512 * MiB),
            (156 * GiB + 1, 64 * MiB),
            (MAX_OBJECT_SIZE, 5 * GiB),
        ],
    )
    def test_part_size_fits_ten_thousand_parts(self, total: int, expected: int) -> None:
        size = part_size_for(total)
        assert size == expected
        assert size * MAX_PARTS >= total
        assert size % MiB == 0

    @given(st.integers(0, MAX_OBJECT_SIZE), st.integers(1, 10_000), st.integers(1, 64))
    def test_part_size_always_fits_the_part_limit(self, total: int, max_parts: int, preferred_mib: int) -> None:
        if -(-total // max_parts) > 5 * GiB:
            with pytest.raises(ValueError):
                part_size_for(total, preferred_mib * MiB, max_parts)
            return
        size = part_size_for(total, preferred_mib * MiB, max_parts)
        assert MIN_PART_SIZE <= size <= 5 * GiB and size * max_parts >= total
        assert size == max(preferred_mib * MiB, MIN_PART_SIZE) or (size - MiB) * max_parts < total, "the smallest"

    def test_part_size_never_below_the_s3_minimum(self) -> None:
        assert part_size_for(10, preferred=1) == MIN_PART_SIZE

    def test_objects_beyond_s3s_limit_are_refused(self) -> None:
        with pytest.raises(ValueError, match="10000 parts"):
            part_size_for(MAX_OBJECT_SIZE + 1)

    def test_growing_parts_reach_s3s_object_limit_within_its_part_limit(self) -> None:
        sizes = [growing_part_size(n, 8 * MiB) for n in range(1, MAX_PARTS + 1)]
        assert sizes[:1000] == [8 * MiB] * 1000, "outputs up to 8 GB keep their 8 MiB parts"
        assert sum(sizes) >= 5 * 1024 * GiB, "10,000 parts hold S3's largest object (fixed 8 MiB parts: 78 GiB)"
        assert max(sizes) <= 5 * GiB and sizes == sorted(sizes)
        with pytest.raises(ValueError):
            growing_part_size(0, 8 * MiB)


def test_range_reader_returns_exactly_the_version_asked_for(s3: Any, settings: Any) -> None:
    first = os.urandom(3 * 1000 + 7)
    v1 = s3.put_object(Bucket="staging", Key="k", Body=first)["VersionId"]
    s3.put_object(Bucket="staging", Key="k", Body=b"newer version")
    reader = RangeReader(s3, "staging", "k", size=len(first), version_id=v1, chunk_size=1000)
    assert b"".join(reader.iter_chunks()) == first
    buffered = io.BufferedReader(RangeReader(s3, "staging", "k", size=len(first), version_id=v1, chunk_size=999))
    assert buffered.read(10) == first[:10]
    buffered.seek(2990)
    assert buffered.read() == first[2990:]


def test_read_ahead_fetches_each_range_once_and_follows_a_seek(s3: Any, settings: Any) -> None:
    """The next chunk is fetched while this one is read: the same bytes, no range twice in a
    sequential read, and a seek elsewhere is served from the right place, not the prefetch."""
    data = os.urandom(10 * 1000 + 3)
    version = s3.put_object(Bucket="staging", Key="k", Body=data)["VersionId"]
    ranges: list[str] = []

    class Recording:
        def get_object(self, **kwargs: Any) -> Any:
            ranges.append(kwargs["Range"])
            return s3.get_object(**kwargs)

    with RangeReader(
        Recording(), "staging", "k", size=len(data), version_id=version, chunk_size=1000, read_ahead=True
    ) as reader:  # type: ignore[arg-type]
        assert io.BufferedReader(reader, buffer_size=300).read() == data
    assert sorted(ranges) == sorted(set(ranges)) and len(ranges) == 11, "each range once"
    with RangeReader(
        Recording(), "staging", "k", size=len(data), version_id=version, chunk_size=1000, read_ahead=True
    ) as reader:  # type: ignore[arg-type]
        buffered = io.BufferedReader(reader, buffer_size=100)
        assert buffered.read(1500) == data[:1500]
        buffered.seek(7_777)
        assert buffered.read(2000) == data[7_777:9_777]
        buffered.seek(5)
        assert buffered.read() == data[5:]
    assert reader.closed


def test_range_reader_on_an_empty_object(s3: Any, settings: Any) -> None:
    s3.put_object(Bucket="staging", Key="empty", Body=b"")
    assert io.BufferedReader(RangeReader(s3, "staging", "empty", size=0)).read() == b""


class TestMultipartWriter:
    def test_small_output_is_one_put(self, s3: Any, settings: Any) -> None:
        with MultipartWriter(s3, "archive", "small", metadata={"a": "b"}, content_type="text/plain") as sink:
            sink.write(b"hello")
        head = s3.head_object(Bucket="archive", Key="small")
        assert read(s3, "archive", "small") == b"hello"
        assert head["Metadata"] == {"a": "b"}
        assert head["ContentType"] == "text/plain"
        assert sink.bytes_written == 5

    @pytest.mark.parametrize("send_ahead", [False, True], ids=["in-turn", "send-ahead"])
    def test_large_output_goes_in_parts(self, s3: Any, settings: Any, send_ahead: bool) -> None:
        data = os.urandom(MIN_PART_SIZE * 2 + 123)
        with MultipartWriter(s3, "archive", "large", part_size=MIN_PART_SIZE, send_ahead=send_ahead) as sink:
            for offset in range(0, len(data), 1_000_000):
                sink.write(data[offset : offset + 1_000_000])
        assert read(s3, "archive", "large") == data
        assert s3.head_object(Bucket="archive", Key="large")["ETag"].endswith('-3"')

    def test_an_error_leaves_no_object_and_no_pending_upload(self, s3: Any, settings: Any) -> None:
        with (
            pytest.raises(RuntimeError),
            MultipartWriter(s3, "archive", "crash", part_size=MIN_PART_SIZE) as sink,
        ):
            sink.write(os.urandom(MIN_PART_SIZE + 1))
            raise RuntimeError("transform crashed midway")
        assert keys(s3, "archive") == []
        assert s3.list_multipart_uploads(Bucket="archive").get("Uploads", []) == []

    @pytest.mark.parametrize("send_ahead", [False, True], ids=["in-turn", "send-ahead"])
    def test_an_output_past_fixed_parts_times_the_part_limit_still_fits(
        self, s3: Any, settings: Any, send_ahead: bool
    ) -> None:
        """With the part limit lowered to 4, four fixed 5 MiB parts would hold 20 MiB; growing
        parts (5, 10, 20, 40 MiB) hold this 60 MiB output in four."""
        data = os.urandom(60 * MiB)
        with MultipartWriter(s3, "archive", "big", part_size=MIN_PART_SIZE, max_parts=4, send_ahead=send_ahead) as sink:
            for offset in range(0, len(data), 4 * MiB):
                sink.write(data[offset : offset + 4 * MiB])
        assert sink.parts_uploaded == 4
        assert read(s3, "archive", "big") == data
        assert s3.head_object(Bucket="archive", Key="big")["ETag"].endswith('-4"')

    @pytest.mark.parametrize("failing", [1, 3], ids=["a-middle-part", "the-last-part"])
    def test_a_part_sent_ahead_that_fails_aborts_the_upload(self, s3: Any, settings: Any, failing: int) -> None:
        """The error of a part in flight is raised by the next write or by close, and the
        upload is aborted after that part has settled: nothing is left, not even parts."""
        plan: list[str | None] = [None] * (failing - 1) + ["InternalError"]
        faulty = Faulty(s3, {"upload_part": plan})
        data = os.urandom(MIN_PART_SIZE * 2 + 5)
        with (
            pytest.raises(ClientError, match="InternalError"),
            MultipartWriter(faulty, "archive", "sent", part_size=MIN_PART_SIZE, send_ahead=True) as sink,  # type: ignore[arg-type]
        ):
            for offset in range(0, len(data), MiB):
                sink.write(data[offset : offset + MiB])
        assert faulty.calls["upload_part"] == failing, "no part is sent after the failed one settles"
        assert keys(s3, "archive") == []
        assert s3.list_multipart_uploads(Bucket="archive").get("Uploads", []) == []

    def test_an_output_beyond_the_part_limit_fails_and_leaves_nothing(self, s3: Any, settings: Any) -> None:
        with (
            pytest.raises(ValueError, match="more than 2 parts"),
            MultipartWriter(s3, "archive", "huge", part_size=MIN_PART_SIZE, max_parts=2) as sink,
        ):
            sink.write(os.urandom(16 * MiB))
        assert keys(s3, "archive") == []
        assert s3.list_multipart_uploads(Bucket="archive").get("Uploads", []) == []

    def test_parts_below_the_s3_minimum_are_refused(self, s3: Any) -> None:
        with pytest.raises(ValueError):
            MultipartWriter(s3, "archive", "k", part_size=MiB)


class TestCopyVersion:
    def _copy(self, s3: Any, version: str, size: int, threshold: int) -> None:
        copy_version(
            s3,
            source_bucket="staging",
            source_key="src",
            source_version=version,
            size=size,
            bucket="archive",
            key="dst",
            metadata={"filepipe-source-version": version},
            content_type="text/csv",
            multipart_threshold=threshold,
            part_size=MIN_PART_SIZE,
        )

    def test_single_copy_of_an_exact_version(self, s3: Any, settings: Any) -> None:
        v1 = s3.put_object(Bucket="staging", Key="src", Body=b"one")["VersionId"]
        s3.put_object(Bucket="staging", Key="src", Body=b"two")
        self._copy(s3, v1, 3, threshold=5 * GiB)
        assert read(s3, "archive", "dst") == b"one"
        head = s3.head_object(Bucket="archive", Key="dst")
        assert head["Metadata"] == {"filepipe-source-version": v1}
        assert head["ContentType"] == "text/csv"

    def test_multipart_copy_above_the_threshold(self, s3: Any, settings: Any) -> None:
        """The >5 GiB path, exercised with the threshold lowered to 5 MiB."""
        data = os.urandom(MIN_PART_SIZE * 2 + 17)
        v1 = s3.put_object(Bucket="staging", Key="src", Body=data)["VersionId"]
        s3.put_object(Bucket="staging", Key="src", Body=b"newer")
        self._copy(s3, v1, len(data), threshold=MIN_PART_SIZE)
        assert read(s3, "archive", "dst") == data
        head = s3.head_object(Bucket="archive", Key="dst")
        assert head["ETag"].endswith('-3"'), "copied in three parts"
        assert head["Metadata"] == {"filepipe-source-version": v1}

    def test_a_failed_part_aborts_the_upload(self, s3: Any, settings: Any) -> None:
        data = os.urandom(MIN_PART_SIZE * 3)
        v1 = s3.put_object(Bucket="staging", Key="src", Body=data)["VersionId"]
        faulty = Faulty(s3, {"upload_part_copy": [None, "InternalError"]})
        with pytest.raises(ClientError, match="InternalError"):
            self._copy(faulty, v1, len(data), threshold=MIN_PART_SIZE)
        assert keys(s3, "archive") == []
        assert s3.list_multipart_uploads(Bucket="archive").get("Uploads", []) == []

    def test_a_copy_in_parts_stops_by_its_deadline_and_goes_on_where_it_stopped(self, s3: Any, settings: Any) -> None:
        """With no time left, each call copies one part (every call makes progress), and says
        which upload to go on with; S3's own list of parts is the progress."""
        data = os.urandom(MIN_PART_SIZE * 3 + 5)
        v1 = s3.put_object(Bucket="staging", Key="src", Body=data)["VersionId"]
        source = {"source_bucket": "staging", "source_key": "src", "source_version": v1, "size": len(data)}
        common = source | {
            "bucket": "archive",
            "key": "dst",
            "metadata": {},
            "content_type": "application/octet-stream",
        }
        calls, result = 0, None
        while True:
            calls += 1
            result = copy_version(
                s3, **common, multipart_threshold=MIN_PART_SIZE, part_size=MIN_PART_SIZE, stop_by=0.0, resume=result
            )
            if not isinstance(result, PartialCopy):
                break
            assert result.done == calls and result.parts == 4
            assert keys(s3, "archive") == [], "nothing is visible before the last part"
            result = PartialCopy.from_json(result.to_json())  # as it travels in the execution
        assert calls == 4
        assert read(s3, "archive", "dst") == data
        assert s3.list_multipart_uploads(Bucket="archive").get("Uploads", []) == []


def test_the_largest_object_is_copied_within_the_history_limit() -> None:
    """A 48.8 TiB copy at the conservative rate, from 900-second invocations: the loop's
    invocations times its events (task entered, scheduled, started, succeeded, exited, and the
    choice's two) stay well under Step Functions' 25,000-event history."""
    from filepipe.storage import MAX_OBJECT_SIZE, seconds_per_part

    part = part_size_for(MAX_OBJECT_SIZE, 512 * MiB)
    per_invocation = 8 * int((900 - 60) // seconds_per_part(part))
    invocations = -(-MAX_PARTS // per_invocation)
    assert part == 5 * GiB and per_invocation >= 8
    assert invocations * 7 < 25_000 // 4, f"{invocations} invocations"
