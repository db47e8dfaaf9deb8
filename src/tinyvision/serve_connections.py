"""Connections the server holds, bounded: a cap on how many are open and a deadline for their headers.

The request bounds of `serve` (workers, queue, body size and time) start once a
request's headers have arrived. Before that, a client that opens connections
and never finishes its headers (slowloris) holds a socket, a file descriptor
and buffers each, and uvicorn neither times that out nor caps the number of
connections: enough of them exhaust the process's file descriptors and the
server stops accepting anyone. This protocol is uvicorn's own HTTP/1.1
protocol (h11) with both bounds added: a connection past MAX_CONNECTIONS
closes the one that has waited longest for a request's headers (or, when every
connection is in a request, is closed as it opens), and one whose request's
headers have not arrived within HEADER_SECONDS is closed: the first request's, from the moment the connection
opens, and each later one's on a kept-alive connection, from the moment the
response before it was sent (uvicorn's keep-alive timer stops at the next
request's first byte, so headers trickled after a good request would
otherwise hold the connection forever).

Two more bounds for what happens after the headers:
- a response the client does not read: once the socket's send buffer is
  full, uvicorn waits for it to drain, with no deadline, and the header
  deadline never starts (it waits for the response to be sent). A client
  that pipelines requests and never reads held its connection for good, and
  enough of them took every place. Writing paused for WRITE_SECONDS drops
  the connection;
- a chunked body in tiny chunks: h11 hands each chunk to the event loop as
  an event of its own, so a megabyte sent a byte a chunk kept the loop busy
  for seconds, and every other request (health too) waited. A body whose
  chunks pass MAX_CHUNKS while averaging under MIN_CHUNK_BYTES is refused
  with a 400 once they do.
"""

from __future__ import annotations

import asyncio
import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, H11Protocol

HEADER_SECONDS = 10.0  # the longest a connection may take to send a request's headers
WRITE_SECONDS = 10.0  # the longest a response may wait for the client to read what was sent before it
# A chunked body may have this many chunks, then must average at least MIN_CHUNK_BYTES a chunk: clients
# send their buffers (kilobytes) as chunks; a thousand tiny ones cost the loop a few milliseconds.
MAX_CHUNKS = 1024
MIN_CHUNK_BYTES = 1024


def max_connections() -> int:
    """Open connections allowed: 1,000, or half the file descriptors this process may open."""
    try:
        import resource
    except ImportError:  # not a Unix
        return 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1000 if soft == resource.RLIM_INFINITY else max(16, min(1000, soft // 2))


MAX_CONNECTIONS = max_connections()


class ChunkCountingConnection(h11.Connection):
    """h11's server connection, refusing a request body sent in too many tiny chunks (as a protocol error,
    which the protocol answers 400 with `refusal` as its reason)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chunks = self.chunk_bytes = 0
        self.refusal: str | None = None

    def next_event(self):
        event = super().next_event()
        if isinstance(event, h11.Request):
            self.chunks = self.chunk_bytes = 0
        elif isinstance(event, h11.Data):
            self.chunks += bool(event.chunk_start)
            self.chunk_bytes += len(event.data)
            if self.chunks > MAX_CHUNKS and self.chunk_bytes < MIN_CHUNK_BYTES * self.chunks:
                self.refusal = (f"a chunked body of over {MAX_CHUNKS:,} chunks must average "
                                f"{MIN_CHUNK_BYTES:,} bytes a chunk")
                raise h11.RemoteProtocolError(self.refusal)
        return event


class ErrorsOnly:
    """uvicorn's logger less its warnings, which a client causes (a request it cannot parse, an upgrade it
    does not support): its errors still go out through uvicorn's handler and format. (A logger's level would
    not hold: uvicorn's logging setup resets those of its loggers' children.)"""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def warning(self, *args, **kwargs) -> None:
        pass

    def __getattr__(self, name: str):
        return getattr(self.logger, name)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a cap on open connections, a deadline for every request's headers and
    for a response the client does not read, and a floor under a chunked body's chunk size."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn logs a warning for each request it cannot parse, or upgrade it does not support: lines a
        # client writes into the server's log, as many as it sends. Errors (the app's own) are still logged.
        self.logger = ErrorsOnly(self.logger)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = ChunkCountingConnection(h11.SERVER, DEFAULT_MAX_INCOMPLETE_EVENT_SIZE if limit is None else limit)
        self.write_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_deadline: asyncio.TimerHandle | None = None
        open_now = [c for c in self.connections if not c.transport.is_closing()]
        if len(open_now) > MAX_CONNECTIONS and not self.shed_idle(open_now):
            transport.close()  # refused as it opens: nothing read, nothing logged per connection
            return
        self.start_header_deadline()

    def shed_idle(self, connections: list) -> bool:
        """At the cap, close the connection that has waited longest for a request's headers, to make room for
        this one; False when every other connection is in a request. Refusing the newcomer instead let one
        client that held the cap with idle sockets (reopening each one closed) lock everyone else out."""
        idle = [c for c in connections if c is not self and getattr(c, "waiting_for_headers", lambda: False)()]
        if not idle:
            return False
        min(idle, key=lambda c: c.idle_since).transport.close()
        return True

    def waiting_for_headers(self) -> bool:
        """No request under way: the connection waits for a request's headers (its first, or its next)."""
        return self.header_deadline is not None and self.cycle is self.waiting_after

    def start_header_deadline(self) -> None:
        """From now, the next request's headers have HEADER_SECONDS to arrive. Which request cycle is current
        now is remembered: a request whose headers arrive starts a new one."""
        if self.header_deadline is not None:
            self.header_deadline.cancel()
        self.waiting_after = self.cycle
        self.idle_since = self.loop.time()
        self.header_deadline = self.loop.call_later(HEADER_SECONDS, self.headers_too_slow)

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.cycle is self.waiting_after:  # no request has started since: its headers never came
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot parse (a bad Content-Length, two of them, a broken chunk, a TLS hello): 400
        with the JSON body every other refusal has, not uvicorn's plain text; then the connection closes."""
        reason = self.conn.refusal or msg.rstrip(".").lower()
        body = json.dumps({"error": f"malformed HTTP request ({reason})"}).encode()
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

    def pause_writing(self) -> None:
        """The client reads no more for now: it has WRITE_SECONDS to start again, or the connection is
        dropped (aborted: closing would wait to send what it does not read)."""
        super().pause_writing()
        if self.write_deadline is None:
            self.write_deadline = self.loop.call_later(WRITE_SECONDS, self.transport.abort)

    def resume_writing(self) -> None:
        if self.write_deadline is not None:
            self.write_deadline.cancel()
            self.write_deadline = None
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        for deadline in (getattr(self, "header_deadline", None), self.write_deadline):
            if deadline is not None:
                deadline.cancel()
        super().connection_lost(exc)
