from typing import Any

import pytest
from helpers import make_hit


@pytest.fixture
def hit() -> dict[str, Any]:
    return make_hit()
