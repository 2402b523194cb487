import pytest

from config.storage import OutboxFilter
from tests.config.store.support import EVERYTHING, filled, query

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("filter", "keys"),
    [
        (OutboxFilter(), ["1", "2", "3", "4", "5", "6", "7"]),
        (OutboxFilter(container_id="other"), ["2"]),
        (OutboxFilter(tag_id="t2"), ["3"]),
        (OutboxFilter(platform="meta"), ["4"]),
        (OutboxFilter(event_name="purchase"), ["5"]),
        (OutboxFilter(lead_id="L-1"), ["1", "2"]),
        (OutboxFilter(container_id="shop", lead_id="L-1"), ["1"]),
        (OutboxFilter(states=("dead",)), ["1"]),
        (OutboxFilter(states=("pending", "dead")), ["1", "2", "3", "4", "5", "6", "7"]),
        (OutboxFilter(since_ms=200), ["7"]),
        (OutboxFilter(until_ms=200), ["1", "2", "3", "4", "5", "6"]),
        (OutboxFilter(since_ms=100, until_ms=100), []),
        (OutboxFilter(tag_id="x' OR '1'='1"), []),
    ],
)
async def test_history_filters(store, filter, keys):
    await filled(store)
    found = await store.history(filter, 100, 0)
    assert sorted(query_key(store, e.outbox_id) for e in found) == keys


def query_key(store, outbox_id):
    return query(store, "SELECT dedup_key FROM outbox WHERE id = ?", (outbox_id,))[0][0]


async def test_history_pages_newest_first(store):
    await filled(store)
    everything = await store.history(EVERYTHING, 100, 0)
    assert [e.outbox_id for e in everything] == [7, 6, 5, 4, 3, 2, 1]
    assert await store.history(EVERYTHING, 2, 3) == everything[3:5]


async def test_an_unknown_state_is_refused(store):
    with pytest.raises(ValueError, match="not sending"):
        await store.history(OutboxFilter(states=("sending",)), 10, 0)
