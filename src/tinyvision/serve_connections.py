"""Connections the server holds, bounded: a cap on how many are open and a deadline for their headers.

The request bounds of `serve` (workers, queue, body size and time) start once a
request's headers have arrived. Before that, a client that opens connections
and never finishes its headers (slowloris) holds a socket, a file descriptor
and buffers each, and uvicorn neither times that out nor caps the number of
connections: enough of them exhaust the process's file descriptors and the
server stops accepting anyone. This protocol is uvicorn's own HTTP/1.1
protocol (h11) with both bounds added: a connection past MAX_CONNECTIONS is
closed as it opens, and one whose request's headers have not arrived within
HEADER_SECONDS is closed: the first request's, from the moment the connection
opens, and each later one's on a kept-alive connection, from the moment the
response before it was sent (uvicorn's keep-alive timer stops at the next
request's first byte, so headers trickled after a good request would
otherwise hold the connection forever).
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0  # the longest a connection may take to send a request's headers


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
    """uvicorn's h11 protocol with a cap on open connections and a deadline for every request's headers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > MAX_CONNECTIONS:
            transport.close()  # refused as it opens: nothing read, nothing logged per connection
            return
        self.start_header_deadline()

    def start_header_deadline(self) -> None:
        """From now, the next request's headers have HEADER_SECONDS to arrive. Which request cycle is current
        now is remembered: a request whose headers arrive starts a new one."""
        if self.header_deadline is not None:
            self.header_deadline.cancel()
        self.waiting_after = self.cycle
        self.header_deadline = self.loop.call_later(HEADER_SECONDS, self.headers_too_slow)

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.cycle is self.waiting_after:  # no request has started since: its headers never came
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot parse (a bad Content-Length, two of them, a broken chunk, a TLS hello): 400
        with the JSON body every other refusal has, not uvicorn's plain text; then the connection closes."""
        body = json.dumps({"error": f"malformed HTTP request ({msg.rstrip('.').lower()})"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                          h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:  # a response had already begun: nothing more can be said on it
            pass
        self.transport.close()

    def on_response_complete(self) -> None:
        # Before uvicorn's own: it may start the next, pipelined request at once, which must not be timed out.
        if not self.transport.is_closing():
            self.start_header_deadline()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)
