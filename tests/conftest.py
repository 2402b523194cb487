from typing import Any

import pytest

from tests.helpers import make_hit


@pytest.fixture
def hit() -> dict[str, Any]:
    return make_hit()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
