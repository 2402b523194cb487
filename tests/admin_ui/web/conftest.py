"""The fixtures the admin UI's browser tests share: a real `tagwire serve --demo` node
per test module (its base URL and data dir) and one Chromium per module. A fixture is
made only for the tests that ask for it, so the HTTP-level tests here start neither."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser import launch
from tests.helpers import tagwire_process


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("tagwire-admin")
    env = {"TAGWIRE_DATA_DIR": str(data_dir), "TAGWIRE_RELOAD_INTERVAL_S": "0.5"}
    with tagwire_process("--demo", env=env) as base:
        yield base, data_dir


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()

