"""Limits on a request's head (request line and header fields), enforced in uvicorn's
httptools protocol before the head is buffered whole.

uvicorn with httptools sets no such limit, and httptools keeps an unfinished header value
in memory until its line ends: a 64 MiB header was accepted, and eight at once took a node
to 806 MB. `LimitedHttpToolsProtocol` counts as the parser goes:

- the raw bytes of a head that is still unfinished after a read, in `data_received`: this
  bounds what httptools holds, one endless header line included. That backstop allows
  the URL and header limits plus the line syntax, so a head within them never meets it;
- the request target's length, the number of header fields and the bytes of their names
  and values, once the head is complete (`on_headers_complete`), before the app sees it.
  Checking there, and not in a callback per header, keeps the cost per request to two
  method calls (a few hundred nanoseconds).

Over a limit, the protocol answers `414 URI Too Long` (the URL) or `431 Request Header
Fields Too Large` (the headers) with a short JSON body naming the limit, and closes the
connection (after a short lingering read, so that the answer is not lost to a reset). The
app never sees the request. If an earlier request on the same connection
is still being answered, that answer completes and the connection then closes without
one (only a pipelining client can get there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["HeadLimits", "LimitedHttpToolsProtocol", "limited_httptools"]

log = logging.getLogger("tagwire.http")

# Per header line: ": " and CRLF; per head: the method, spaces, "HTTP/1.1", CRLFs, and a
# little optional whitespace. Only the raw backstop uses these.
_LINE_SYNTAX = 4
_HEAD_SYNTAX = 1024
# After a refusal: how long, and how many bytes, the connection is read and dropped.
_LINGER_S = 1.0
_LINGER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """What one request's head may hold (the defaults are the settings' defaults)."""

    max_url_bytes: int = 8192
    max_headers: int = 100
    max_header_bytes: int = 32768

    @property
    def max_head_bytes(self) -> int:
        """Raw bytes an unfinished head may reach: both limits plus the line syntax."""
        return (
            self.max_url_bytes
            + self.max_header_bytes
            + _LINE_SYNTAX * self.max_headers
            + _HEAD_SYNTAX
        )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the answer is already chosen."""


def _answer(status: int, field: str, reason: str, limit: int) -> bytes:
    body = orjson.dumps({"errors": [{"field": field, "reason": reason, "limit": limit}]})
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `HeadLimits`; `limited_httptools` binds them."""

    limits: ClassVar[HeadLimits] = HeadLimits()

    # Per connection: the answer chosen when a limit was passed. Per message: whether its
    # head is unfinished, the raw bytes of the reads that were all head, and an upper
    # bound of the head's size (every read it had a part in).
    _refusal: bytes | None = None
    _head_open = False
    _head_raw = 0
    _head_bound = 0
    _read = 0  # bytes of the read being parsed
    _begun = 0  # messages begun during the read being parsed
    _dropped = 0  # bytes read and dropped after a refusal

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            # Answered: the rest is read and dropped for a while (see `_refuse`).
            self._dropped += len(data)
            if self._dropped > _LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        was_open = self._head_open
        # Between messages: the next one starts at this read's first byte.
        was_idle = not was_open and (self.cycle is None or not self.cycle.more_body)
        self._begun = 0
        self._read = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._head_open:
            # The read ends inside a head, which httptools holds until it ends: count it.
            # Whole when all of it is that head; when an earlier message ended in it, only
            # in the bound (the raw count misses at most that one read).
            self._head_bound += len(data)
            if (was_open and self._begun == 0) or (was_idle and self._begun == 1):
                self._head_raw += len(data)
                limit = self.limits.max_head_bytes
                if self._head_raw > limit:
                    reason = f"the request head is larger than {limit} bytes"
                    self._choose(431, "headers", reason, limit)
                    self._refuse()

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._begun += 1
        self._head_open = True
        self._head_raw = self._head_bound = 0

    def on_headers_complete(self) -> None:
        """The precise limits, once per request: a head cannot have grown past them by
        more than the raw backstop and one read."""
        self._head_open = False
        limits = self.limits
        if len(self.url) > limits.max_url_bytes:
            limit = limits.max_url_bytes
            self._choose(414, "url", f"the request target is longer than {limit} bytes", limit)
            raise _Refused
        if len(self.headers) > limits.max_headers:
            limit = limits.max_headers
            self._choose(431, "headers", f"more than {limit} header fields", limit)
            raise _Refused
        # Names and values are summed only when the reads could hold that many bytes.
        if self._head_bound + self._read > limits.max_header_bytes and (
            sum(len(name) + len(value) for name, value in self.headers) > limits.max_header_bytes
        ):
            limit = limits.max_header_bytes
            reason = f"the header fields are larger than {limit} bytes in all"
            self._choose(431, "headers", reason, limit)
            raise _Refused
        HttpToolsProtocol.on_headers_complete(self)

    def _choose(self, status: int, field: str, reason: str, limit: int) -> None:
        self._refusal = _answer(status, field, reason, limit)
        log.info(
            "request refused: head over a limit",
            extra={"fields": {"status": status, "reason": reason}},
        )

    def _refuse(self) -> None:
        """Answer the refusal and close, unless an earlier answer is still under way: then
        that one completes and the connection closes after it."""
        assert self._refusal is not None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
            self.flow.pause_reading()
            return
        # Closing a socket with unread input makes the kernel reset the connection, and a
        # reset can destroy the answer before the client reads it. So: the answer, then
        # end of output, then read and drop what still arrives until the client closes,
        # for at most a second or a MiB.
        self.transport.write(self._refusal)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_S, self.transport.close)


def limited_httptools(limits: HeadLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to pass to `uvicorn.Config(http=...)`, bound to `limits`."""

    class Bound(LimitedHttpToolsProtocol):
        pass

    Bound.limits = limits
    return Bound
