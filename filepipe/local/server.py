"""The local cloud's HTTP server: werkzeug's threaded server, with a time budget per request.

werkzeug closes a connection idle for its ``timeout``, but a client sending a byte every few
seconds is never idle: a request line, a hundred header lines of 64 KiB or a body can be dribbled
for days, each holding a server thread and a connection. Here a request must arrive within a
total budget: ``request_seconds`` from its first byte, plus a second for every ``MIN_RATE``
bytes it has sent, so that an upload at any usable speed keeps earning time and a dribbler does
not. Past it the read fails with :class:`TimeoutError`: werkzeug closes the connection while the
headers are still coming, and the front door answers S3's ``RequestTimeout`` once a body is being
read (``guard.py``). werkzeug serves one request per connection, so the clock is the connection's.
"""

from __future__ import annotations

import io
import socket
import time
from typing import Any, ClassVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from filepipe.storage import KiB

MIN_RATE = 64 * KiB
"""Bytes a second a request earns its time at: a 5 GiB part gets a day; a trickle, nothing."""


class RequestBudget:
    """The clock of one connection: idle waits, and the whole request's time."""

    def __init__(self, idle_seconds: float, request_seconds: float) -> None:
        self.idle_seconds, self.request_seconds = idle_seconds, request_seconds
        self._started: float | None = None
        self._received = 0

    def next_wait(self) -> float:
        """How long the next read may wait; :class:`TimeoutError` once the budget is spent."""
        if self._started is None:
            return self.idle_seconds
        left = self._started + self.request_seconds + self._received / MIN_RATE - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request took longer than its {self.request_seconds:g}-second budget")
        return min(self.idle_seconds, left)

    def received(self, count: int) -> None:
        if self._started is None:
            self._started = time.monotonic()
        self._received += count


class _BudgetedSocketIO(socket.SocketIO):
    """The connection's reads, each allowed what is left of the budget. Writes keep the idle
    timeout (a slow reader of a large answer is not what the budget is for)."""

    def __init__(self, sock: socket.socket, budget: RequestBudget) -> None:
        super().__init__(sock, "rb")
        self._budget = budget

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._budget.next_wait())  # type: ignore[attr-defined]
        try:
            count = super().readinto(buffer) or 0
        finally:
            self._sock.settimeout(self._budget.idle_seconds)  # type: ignore[attr-defined]
        if count:
            self._budget.received(count)
        return count


class BudgetedRequestHandler(WSGIRequestHandler):
    """werkzeug's handler reading through a :class:`RequestBudget`."""

    timeout = 15
    """Idle seconds (socketserver's name for it)."""
    request_seconds: ClassVar[float] = 60

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # werkzeug's buffered reader of the socket, replaced by one on the budget
        budget = RequestBudget(self.timeout or self.request_seconds, self.request_seconds)
        self.rfile = io.BufferedReader(_BudgetedSocketIO(self.connection, budget))


def local_server(host: str, port: int, app: Any, idle_seconds: float, request_seconds: float) -> BaseWSGIServer:
    """A threaded server for ``app`` whose connections keep to those times."""
    handler = type(
        "RequestHandler",
        (BudgetedRequestHandler,),
        {"timeout": idle_seconds, "request_seconds": request_seconds},
    )
    return make_server(host, port, app, threaded=True, request_handler=handler)
