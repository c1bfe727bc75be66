"""Fidelity patch: a request body moto cannot decode (a canary in ``tests/local/test_moto_adapter.py``).

moto decodes the body of every request to a service other than S3 as UTF-8 before it looks at
it, so bytes that are not UTF-8 were a UnicodeDecodeError (a 500) where AWS answers 400
``SerializationException``. The JSON and query services are checked before moto sees them
(``shapes.py``); this covers the rest (moto's own Lambda API, a path no route claims).
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

_original_setup_class = BaseResponse.setup_class


def _setup_class(self: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return _original_setup_class(self, *args, **kwargs)
    except UnicodeDecodeError:
        raise JsonRESTError("SerializationException", "the request body is not UTF-8") from None


def apply() -> None:
    BaseResponse.setup_class = _setup_class  # type: ignore[method-assign]
