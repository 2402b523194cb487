from collections.abc import AsyncIterator

import pytest

from container.lanes import TagLanes


@pytest.fixture
async def lanes() -> AsyncIterator[TagLanes]:
    """Started tag lanes for endpoints built directly in a test (the app starts its own)."""
    started = TagLanes(workers=2)
    started.start()
    yield started
    await started.stop()
