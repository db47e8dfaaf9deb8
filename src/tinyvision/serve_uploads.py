"""Request bodies as they arrive, bounded: their bytes together, their pace, and one copy of a form's image.

A request's body is read before it takes a place among the workers and the
queue (`serve.Admission`), so a place is only ever held by a request that can
be worked on at once. Before, a place was taken first: eighteen clients
trickling a byte every two seconds held every place of the default server,
and everyone else was answered 503 for as long as they kept reconnecting.

What an upload holds instead is bounded three ways:
- its bytes, as they arrive, count against one budget for every body the
  server holds (`BodyBudget`), arriving or waiting for a worker. The budget
  is (workers + queue) x max_bytes, the bound the queue alone gave before;
  a body that would pass it is answered 503, and nothing is reserved for
  bytes that have not come, so a client that declares ten megabytes and
  sends none holds none;
- its pace: after GRACE_SECONDS, a body must have come at MIN_RATE bytes a
  second on average, and no gap between its pieces may pass STALL_SECONDS
  (Apache's mod_reqtimeout and nginx's client_body_timeout set the same two
  bounds), within the server's total `body_seconds`. What a client has sent
  quickly it may hold until then: a flood of bandwidth (180 MB every 30 s
  fills the default budget) is for a proxy in front to stop;
- a multipart form is parsed as it arrives (python-multipart's streaming
  parser), on a thread and within PARSE_SECONDS of CPU: only the `image`
  field's bytes are kept, never the whole body. The form parsed after the
  body had been read held three copies (the body, the form's spooled file,
  the image read from it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

from python_multipart.multipart import FormParserError, MultipartParser, parse_options_header
from starlette.requests import Request

from tinyvision.image.decode import ImageError

FIELD = "image"  # the multipart field that carries the image
MAX_PARTS = 4  # a form of more parts than this is no upload of one image
GRACE_SECONDS = 5.0  # a body's first seconds, before its pace is counted
MIN_RATE = 1_000  # bytes a second a body must average once its grace has passed
STALL_SECONDS = 10.0  # the longest a body may send nothing
# Parsing a form may take this much CPU time: python-multipart walks some stretches byte by byte in Python
# (padding after a boundary, runs of near-boundaries), about 0.2 s a megabyte; 10 MB of ordinary form data
# take 0.01 s.
PARSE_SECONDS = 0.25
# python-multipart logs a warning for each malformed form it parses: a client could fill the server's log.
# Its refusals reach the client as 400s; the parser's own log lines go to this logger, which keeps errors only.
QUIET = logging.getLogger("tinyvision.serve.multipart")
QUIET.setLevel(logging.ERROR)
# A part with a filename is a file. RFC 7578 forbids RFC 5987's `filename*=UTF-8''name.png` in a form, and
# python-multipart drops it, but some clients name a file only so: the part is a file all the same (its name is
# never used), and it was refused as "no file field 'image'".
EXTENDED_FILENAME = re.compile(rb";\s*filename\*[0-9*]*\s*=", re.IGNORECASE)


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class BudgetFull(Exception):
    pass


class BodyBudget:
    """Bytes of request bodies the server holds at once, arriving or waiting: never over `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self.lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give(self, size: int) -> None:
        with self.lock:
            self.held -= size


class Holding:
    """One request's share of the budget, given back whole when the request ends (`with`)."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def take(self, size: int) -> None:
        if not self.budget.take(size):
            raise BudgetFull
        self.size += size

    def detach(self) -> int:
        """The bytes held, no longer given back at the end of the `with`: the caller gives them back."""
        size, self.size = self.size, 0
        return size

    def __enter__(self) -> Holding:
        return self

    def __exit__(self, *exc) -> None:
        self.budget.give(self.size)
        self.size = 0


class FormImage:
    """The multipart form's `image` file field, parsed piece by piece as the body arrives; the bytes of
    any other part are dropped as they pass (their names are kept, to say what was sent instead)."""

    def __init__(self, content_type: str) -> None:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise self.malformed("no boundary")
        callbacks = {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                     "on_header_value": self.header_value, "on_header_end": self.header_end,
                     "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                     "on_end": self.end}
        try:
            self.parser = MultipartParser(boundary, callbacks)
            self.parser.logger = QUIET
        except FormParserError as exc:  # e.g. a boundary over python-multipart's 256 bytes
            raise self.malformed(str(exc)[:120]) from None
        self.parts, self.others, self.data = 0, [], bytearray()
        self.found = self.in_image = self.ended = False
        self.field, self.value, self.headers = b"", b"", {}
        self.cpu = 0.0

    @staticmethod
    def malformed(reason: str) -> ImageError:
        return ImageError(f"malformed multipart form ({reason}); send the image as field '{FIELD}'", "bad_form")

    def part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ImageError(f"a form of over {MAX_PARTS} parts: send the image alone, as the field '{FIELD}'",
                             "bad_form")
        self.in_image, self.headers = False, {}

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def headers_finished(self) -> None:
        disposition = self.headers.get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("latin-1")
        is_file = b"filename" in params or EXTENDED_FILENAME.search(disposition) is not None
        if name == FIELD and is_file:
            if self.found:
                raise ImageError(f"the form has two fields '{FIELD}': send one image", "bad_form")
            self.found = self.in_image = True
        else:
            self.others.append(name)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_image:
            self.data += data[start:end]

    def end(self) -> None:
        self.ended = True

    def feed(self, chunk: bytes) -> None:
        started = time.thread_time()
        try:
            self.parser.write(chunk)
        except FormParserError as exc:
            raise self.malformed(str(exc)[:120]) from None
        self.cpu += time.thread_time() - started
        if self.cpu > PARSE_SECONDS:
            raise ImageError(f"the form took over {PARSE_SECONDS:g} s to parse (runs of padding or near-boundaries):"
                             f" send the image as the raw body, or as an ordinary form", "bad_form")

    def image(self) -> bytearray:
        others = sorted(set(name for name in self.others if name != FIELD))
        if others:
            named = ", ".join(repr(k) if k else "a part without a name" for k in others)
            raise ImageError(f"unknown form field(s) {named}: send the image as the field '{FIELD}'", "bad_form")
        if not self.found and FIELD in self.others:  # the field came, as text
            raise ImageError(f"the form's field '{FIELD}' is text, not a file (its part names no filename): "
                             f"send the image as a file", "bad_form")
        if not self.found:
            raise ImageError(f"the form has no file field '{FIELD}'", "bad_form")
        if not self.ended:
            raise self.malformed("it ends before its closing boundary")
        return self.data


async def receive_image(request: Request, holding: Holding, limit: int, seconds: float) -> bytearray:
    """The image a request carries: its raw body, or its multipart form's `image` field, gathered in one
    buffer as it arrives (a list of the pieces, joined after, left the heap strewn with 64 KB blocks that
    the allocator kept after the burst). The body is refused as it passes `limit` bytes (413), as it would
    pass the server's budget (503), and when it arrives too slowly (408): see the module's docstring. A
    form is parsed on a thread: python-multipart parses some stretches (padding after a boundary) byte by
    byte in Python, and a megabyte of that held the event loop, and every other request, for a fifth of
    a second."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    content_type = request.headers.get("content-type", "")
    form = FormImage(content_type) if content_type.lower().startswith("multipart/form-data") else None
    loop = asyncio.get_running_loop()
    started = last = loop.time()
    body, size = bytearray(), 0
    pieces = request.stream().__aiter__()
    while True:
        deadline = min(started + seconds, last + STALL_SECONDS, started + GRACE_SECONDS + size / MIN_RATE)
        try:
            chunk = await asyncio.wait_for(pieces.__anext__(), max(0.0, deadline - loop.time()))
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            if deadline >= started + seconds:
                raise BodyTooSlow(f"the request body took over {seconds:g} s to arrive") from None
            raise BodyTooSlow(f"the request body arrived too slowly (under {MIN_RATE:,} bytes a second, or "
                              f"nothing for {STALL_SECONDS:g} s)") from None
        last = loop.time()
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        holding.take(len(chunk))  # a form's share: more than the image field keeps of it
        if form is None:
            body += chunk
        else:
            await loop.run_in_executor(None, form.feed, chunk)
    return form.image() if form is not None else body
