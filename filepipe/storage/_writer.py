"""Write an object of unknown length in parts, holding one part in memory (two when a part is
sent in the background)."""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from filepipe.storage._parts import MAX_PARTS, MIN_PART_SIZE, MiB, growing_part_size

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


class MultipartWriter(io.RawIOBase):
    """A write-only file that lands as one S3 object, or as nothing at all.

    Small outputs become one PutObject; larger ones a multipart upload whose parts start at
    ``part_size`` bytes and grow as the output does (:func:`growing_part_size`), so an output of
    any size S3 allows fits in its 10,000 parts. The object appears only when :meth:`close` completes it; on an error
    inside the ``with`` block (or :meth:`abort`) the upload is aborted, so a crash never leaves
    a half-written object behind.

    With ``send_ahead``, each part is sent by a thread while the writer fills the next, so the
    producer (a Parquet encoder, say) does not wait for S3; at most one part is in flight, and
    its error is raised by the next write or by ``close``.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        *,
        part_size: int = 8 * MiB,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        max_parts: int = MAX_PARTS,
        send_ahead: bool = False,
    ) -> None:
        super().__init__()
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes")
        self._s3, self.bucket, self.key = s3, bucket, key
        self._part_size, self._max_parts = part_size, max_parts
        self._extra: dict[str, Any] = {"ContentType": content_type, "Metadata": metadata or {}}
        self._buffer: bytearray | None = None
        """The part being filled, allocated at its final size so that each byte is copied once."""
        self._filled = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._sender = ThreadPoolExecutor(1, "s3-part-upload") if send_ahead else None
        self._sending: Future[CompletedPartTypeDef] | None = None
        self.bytes_written = 0
        self.etag: str | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed MultipartWriter")
        view = memoryview(data).cast("B")
        written = len(view)
        while view:
            if self._buffer is None:
                self._buffer, self._filled = bytearray(self.next_part_size), 0
            taken = min(len(self._buffer) - self._filled, len(view))
            self._buffer[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
            if self._filled == len(self._buffer):
                part, self._buffer = self._buffer, None
                self._upload_part(part)
        self.bytes_written += written
        return written

    @property
    def next_part_size(self) -> int:
        in_flight = 1 if self._sending is not None else 0
        return growing_part_size(len(self._parts) + in_flight + 1, self._part_size, self._max_parts)

    @property
    def parts_uploaded(self) -> int:
        return len(self._parts)

    def close(self) -> None:
        """Complete the object (PutObject when it never reached one part)."""
        if self.closed:
            return
        try:
            if self._upload_id is None:
                put = self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._pending(), **self._extra)
                self.etag = str(put.get("ETag", "")).strip('"') or None
            else:
                if self._filled or not (self._parts or self._sending):
                    self._upload_part(self._pending())
                self._settle()
                completed = self._s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self.etag = str(completed.get("ETag", "")).strip('"') or None
        except BaseException:
            self.abort()
            raise
        finally:
            self._buffer, self._filled = None, 0
            self._stop_sender()
            super().close()

    def abort(self) -> None:
        """Drop everything written so far; the key is left as it was."""
        self._stop_sender()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None
        self._buffer, self._filled = None, 0
        if not self.closed:
            super().close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def _pending(self) -> bytes:
        """What the part being filled holds so far."""
        return bytes(memoryview(self._buffer or b"")[: self._filled])

    def _upload_part(self, data: bytes | bytearray) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self._extra)
            self._upload_id = created["UploadId"]
        self._settle()
        number = len(self._parts) + 1
        if number > self._max_parts:
            raise ValueError(f"{self.key}: more than {self._max_parts} parts; the output is over S3's object limit")
        if self._sender is None:
            self._parts.append(self._send(self._upload_id, number, data))
        else:
            self._sending = self._sender.submit(self._send, self._upload_id, number, data)

    def _send(self, upload_id: str, number: int, data: bytes | bytearray) -> CompletedPartTypeDef:
        response = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=cast(bytes, data)
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _settle(self) -> None:
        """Wait for the part in flight; its error is raised here."""
        sending, self._sending = self._sending, None
        if sending is not None:
            self._parts.append(sending.result())

    def _stop_sender(self) -> None:
        """Wait for the part in flight, whatever its outcome (an abort must follow it, or S3
        could keep a part uploaded after the abort)."""
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
        self._sending = None
