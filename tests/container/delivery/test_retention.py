"""Retention: sent rows older than the setting go, in batches, and nothing else."""

from __future__ import annotations

import pytest

import container.delivery.retention as retention
from config.sqlite_store import SQLiteStore
from config.storage import Delivery, OutboxRow
from container.delivery.retention import RetentionPruner

pytestmark = pytest.mark.anyio

DAY = 86_400_000


def row(event_id: str) -> OutboxRow:
    return OutboxRow("shop", "hook", "hooks.example.com", "POST", "https://hooks.example.com/",
                     b"{}", b"{}", "lead", event_id, None, "webhook", 1, None, None, None,
                     False)  # fmt: skip


async def test_a_pass_deletes_every_old_sent_row_batch_by_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 3)
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    try:
        await store.enqueue([row(f"old-{i}") for i in range(7)], 1 * DAY)
        await store.enqueue([row(f"new-{i}") for i in range(2)], 9 * DAY)
        claimed = await store.claim(100, 10 * DAY)
        await store.record([Delivery(item.id, "sent", 200, "ok", 0, 0) for item in claimed])
        pruner = RetentionPruner(store, keep_ms=5 * DAY, clock=lambda: 10 * DAY)
        assert await pruner.prune() == 7  # three batches: 3, 3, 1
        assert await pruner.prune() == 0
        assert await store.outbox_counts() == {"sent": 2}
    finally:
        await store.close()
