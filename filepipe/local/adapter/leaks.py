"""Resource patches: where moto keeps what it no longer needs. None changes an answer; each has
a canary in ``tests/local/test_moto_adapter.py``.

ListObjectVersions: moto answers from a deep copy of every version in the bucket (whatever the
prefix or page), so that it can mark the copies ``is_latest`` without touching the stored keys.
Each copy is a new model, and moto tracks every model it makes until a reset (its dashboard lists
them), so none is ever freed; a copy of a key carries the object's bytes, which past moto's key
buffer size (5 MiB) sit in a temporary file, held open. Every listing (the pipeline's "object
gone" path lists the archive's versions) kept a copy of each large version on disk and one more
descriptor: a long-running local cloud ends with a full disk or at the open-file limit.

Here a listing's copies carry each version's metadata (what the answer shows), never its bytes,
and when the listing returns they are disposed of and no longer tracked, so they go once the
answer is rendered.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from moto.core.common_models import BaseModel
from moto.s3 import models as s3_models

_listing = threading.local()
_release_lock = threading.Lock()
_original_list_object_versions = s3_models.S3Backend.list_object_versions
_original_getstate = s3_models.FakeKey.__getstate__
_original_setstate = s3_models.FakeKey.__setstate__
_original_new = BaseModel.__new__
_NOT_COPIED = ("_value_buffer", "lock", "multipart")
"""A key's bytes (and the parts of a multipart object, each a key with its own bytes): what a
listing never shows."""


def _copies() -> list[Any] | None:
    """The models made so far by the listing under way on this thread, if one is."""
    return getattr(_listing, "copies", None)


def _list_object_versions(self: Any, *args: Any, **kwargs: Any) -> Any:
    copies: list[Any] = []
    _listing.copies = copies
    try:
        return _original_list_object_versions(self, *args, **kwargs)
    finally:
        _listing.copies = None
        _release(copies)


def _new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """moto's model constructor, noting what a listing copies (the copies are made this way)."""
    instance = _original_new(cls, *args, **kwargs)
    copies = _copies()
    if copies is not None:
        copies.append(instance)
    return instance


def _getstate(self: Any) -> dict[str, Any]:
    if _copies() is None:
        return dict(_original_getstate(self))
    _ = self.etag  # listed; computed once from the bytes and kept on the stored key, then copied
    state = {name: value for name, value in self.__dict__.items() if name not in _NOT_COPIED}
    state["multipart"] = None
    return state


def _setstate(self: Any, state: dict[str, Any]) -> None:
    if _copies() is None:
        _original_setstate(self, state)
        return
    self.__dict__.update(state)  # ``contentsize`` included: the copy keeps the object's size
    self._value_buffer = io.BytesIO()  # empty: what a key's methods expect, with nothing in it
    self.lock = threading.Lock()


def _release(copies: list[Any]) -> None:
    """Dispose of the listing's copies (moto warns about a key collected undisposed) and stop
    tracking them. Each was tracked as it was made, near the end of its class's list, so the
    search runs from there."""
    with _release_lock:
        for instance in reversed(copies):
            if isinstance(instance, s3_models.FakeKey):
                instance.dispose()
            tracked = type(instance).instances_tracked
            for index in range(len(tracked) - 1, -1, -1):
                if tracked[index] is instance:
                    del tracked[index]
                    break


def apply() -> None:
    s3_models.S3Backend.list_object_versions = _list_object_versions  # type: ignore[method-assign]
    s3_models.FakeKey.__getstate__ = _getstate  # type: ignore[method-assign]
    s3_models.FakeKey.__setstate__ = _setstate  # type: ignore[method-assign]
    BaseModel.__new__ = staticmethod(_new)  # type: ignore[method-assign]
