"""Stopping a node's background loops (reload, retries, sweeps) the same way."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["cancel"]


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background loop and wait until it has stopped; None: nothing started.
    The loops await between steps, so cancelling never cuts a step's transaction."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
