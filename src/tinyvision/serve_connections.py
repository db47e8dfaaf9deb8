"""Connections the server holds, bounded: a cap on how many are open and a deadline for their headers.

The request bounds of `serve` (workers, queue, body size and time) start once a
request's headers have arrived. Before that, a client that opens connections
and never finishes its headers (slowloris) holds a socket, a file descriptor
and buffers each, and uvicorn neither times that out nor caps the number of
connections: enough of them exhaust the process's file descriptors and the
server stops accepting anyone. This protocol is uvicorn's own HTTP/1.1
protocol (h11) with both bounds added: a connection past MAX_CONNECTIONS is
closed as it opens, and one whose first request's headers have not arrived
within HEADER_SECONDS is closed.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0  # the longest a new connection may take to send its first request's headers


def max_connections() -> int:
    """Open connections allowed: 1,000, or half the file descriptors this process may open."""
    try:
        import resource
    except ImportError:  # not a Unix
        return 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1000 if soft == resource.RLIM_INFINITY else max(16, min(1000, soft // 2))


MAX_CONNECTIONS = max_connections()


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a cap on open connections and a deadline for the first headers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > MAX_CONNECTIONS:
            transport.close()  # refused as it opens: nothing read, nothing logged per connection
            return
        self.header_deadline = self.loop.call_later(HEADER_SECONDS, self.headers_too_slow)

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.cycle is None:  # no request has started on this connection: its headers never came
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)
