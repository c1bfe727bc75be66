"""``manifest``: size, SHA-256 and detected content type of any file, as JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from filepipe.storage import MiB
from filepipe.transforms._base import Readable, SourceInfo, Writable

_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
]
_SNIFF_BYTES = 4096


def detect_content_type(head: bytes) -> str:
    """Guess a content type from a file's first bytes (magic numbers, then text or binary)."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if not head:
        return "application/x-empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniff boundary is still text.
        if exc.start < len(head) - 3:
            return "application/octet-stream"
        text = head[: exc.start].decode("utf-8")
    if "\x00" in text:
        return "application/octet-stream"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return "application/json"
    if stripped.startswith("<?xml") or stripped.startswith("<"):
        return "application/xml"
    return "text/plain"


class Manifest:
    name = "manifest"
    version = "1"
    output_name = "manifest.json"
    content_type = "application/json"

    def run(self, source: Readable, sink: Writable, info: SourceInfo) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        head = b""
        while chunk := source.read(MiB):
            if len(head) < _SNIFF_BYTES:
                head += chunk[: _SNIFF_BYTES - len(head)]
            digest.update(chunk)
            size += len(chunk)
        manifest = {
            "key": info.key,
            "size": size,
            "sha256": digest.hexdigest(),
            "contentType": detect_content_type(head),
        }
        sink.write(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
        return {"size": size, "sha256": manifest["sha256"], "contentType": manifest["contentType"]}
