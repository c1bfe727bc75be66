"""Read one object version in ranged GETs, a chunk at a time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from filepipe.storage._parts import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class RangeReader(io.RawIOBase):
    """A read-only file over one object version, fetched ``chunk_size`` bytes per GET.

    Each GET names the exact version (or ETag) so a newer upload of the same key cannot be
    mixed into the bytes; memory holds one chunk at a time, two with ``read_ahead``, which
    fetches the next chunk in a thread while this one is read (the network's wait overlaps the
    reader's work). Wrap it in ``io.BufferedReader`` (or pass it to pyarrow, which buffers) for
    small reads.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        *,
        size: int,
        version_id: str | None = None,
        etag: str | None = None,
        chunk_size: int = 8 * MiB,
        read_ahead: bool = False,
    ) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        self._version_id, self._etag = version_id, etag
        self._size, self._chunk_size = size, chunk_size
        self._pos = 0
        self._chunk = b""
        self._chunk_start = 0
        self._ahead: ThreadPoolExecutor | None = ThreadPoolExecutor(1, "s3-read-ahead") if read_ahead else None
        self._next: tuple[int, Future[bytes]] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        offset = self._pos - self._chunk_start
        if not 0 <= offset < len(self._chunk):
            self._chunk = self._fetch(self._pos)
            self._chunk_start, offset = self._pos, 0
        count = min(len(view), len(self._chunk) - offset)
        view[:count] = memoryview(self._chunk)[offset : offset + count]
        self._pos += count
        return count

    def _fetch(self, first: int) -> bytes:
        """The chunk at ``first``: the one fetched ahead when it is that one; then the next."""
        ahead, self._next = self._next, None
        chunk = ahead[1].result() if ahead is not None and ahead[0] == first else self._range(first)
        following = first + len(chunk)
        if self._ahead is not None and following < self._size:
            self._next = (following, self._ahead.submit(self._range, following))
        return chunk

    def _range(self, first: int) -> bytes:
        return self._get(first, min(first + self._chunk_size, self._size) - 1)

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
            self._ahead, self._next = None, None
        super().close()

    def iter_chunks(self) -> Iterator[bytes]:
        """Yield the object from the current position in ``chunk_size`` pieces."""
        while self._pos < self._size:
            last = min(self._pos + self._chunk_size, self._size) - 1
            chunk = self._get(self._pos, last)
            self._pos = last + 1
            yield chunk

    def _get(self, first: int, last: int) -> bytes:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key, "Range": f"bytes={first}-{last}"}
        if self._version_id:
            params["VersionId"] = self._version_id
        elif self._etag:
            params["IfMatch"] = self._etag
        body = self._s3.get_object(**params)["Body"]
        try:
            return body.read()
        finally:
            body.close()
