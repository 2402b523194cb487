"""The `harness` fixture: a fresh runtime per test (one costs well under a millisecond)."""

from __future__ import annotations

import pytest

from tags.runtime import TemplateRuntime
from tests.tags.harness import SECRETS, Harness


@pytest.fixture
def harness() -> Harness:
    return Harness(TemplateRuntime(SECRETS.get))
