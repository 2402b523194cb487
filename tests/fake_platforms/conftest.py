"""Fixtures: fresh fake platforms at a fixed clock, and a client for their app."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from fake_platforms import FakePlatforms
from tests.fake_platforms.payloads import NOW_MS


@pytest.fixture
def fakes() -> FakePlatforms:
    return FakePlatforms(clock=lambda: NOW_MS)


@pytest.fixture
def client(fakes: FakePlatforms) -> TestClient:
    return TestClient(fakes.app)
