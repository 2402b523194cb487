"""The request body both endpoints take: one error for a body that cannot be read, and
the size checks made before and while reading it.

`/collect` and the Fire API refuse a body for the same reasons and in the same words: 400,
or 413 when it is too large, with one error naming the field (`body`, `Content-Length`)
and why. Each endpoint keeps its own size limit and its own way of receiving the bytes.
"""

from __future__ import annotations

from starlette.types import Receive

__all__ = ["BodyError", "check_declared_length", "read_bounded"]


class BodyError(Exception):
    """A request body that cannot be read as hits or events: `field` and `reason` go into
    the answer's one error, `status` is 400, or 413 for a body that is too large."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status

    @classmethod
    def too_large(cls, limit: int) -> BodyError:
        """More bytes than the endpoint reads: the client must split its batch."""
        return cls("body", f"larger than {limit} bytes", 413)

    @classmethod
    def disconnected(cls) -> BodyError:
        """The client went away mid-body: nothing of a partial body is accepted."""
        return cls("body", "client disconnected before sending the whole body")


def check_declared_length(declared: str | None, limit: int) -> None:
    """Refuse by Content-Length before reading: a body refused anyway is not received."""
    if declared is None:
        return
    if not declared.isdigit():
        raise BodyError("Content-Length", "must be a whole number of bytes")
    if int(declared) > limit:
        raise BodyError.too_large(limit)


async def read_bounded(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The whole body from the ASGI messages, refused as soon as it is larger than
    `limit` (by its declared Content-Length, or while it arrives)."""
    check_declared_length(declared, limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError.disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyError.too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
