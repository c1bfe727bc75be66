"""Content types as media types: ``type/subtype``, parameters aside, no glob tricks."""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")


class InvalidMediaType(ValueError):
    """Not a ``type/subtype`` a Content-Type header can carry."""


def media_type(value: object) -> str:
    """The media type of a Content-Type value, lower-cased, its parameters (``; charset=...``)
    dropped: ``Text/CSV; charset=utf-8`` -> ``text/csv``. Anything but one ``type/subtype`` of
    RFC 9110 token characters is refused (``image/../../text/html`` among them)."""
    if not isinstance(value, str):
        raise InvalidMediaType("contentType must be a MIME type such as text/csv")
    essence = value.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(essence):
        raise InvalidMediaType(f"{value!r} is not a MIME type such as text/csv")
    return essence


def accepted(media: str, allowed: Iterable[str]) -> bool:
    """Whether ``media`` is one of ``allowed``; ``type/*`` there stands for every subtype."""
    kind = media.split("/", 1)[0]
    return any(media == rule or rule == f"{kind}/*" for rule in allowed)
