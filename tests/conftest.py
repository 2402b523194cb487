import os
import secrets
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.helpers import make_hit


@pytest.fixture
def hit() -> dict[str, Any]:
    return make_hit()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def no_plaintext_pii_leaves():
    """Every outbound request the suite builds in-process is scanned for plaintext PII."""
    import container.pipeline as pipeline
    from variables.pii_firewall import contains_pii

    original = pipeline.OutboxRow
    built = []

    def recording(**fields):
        row = original(**fields)
        built.append(row)
        return row

    pipeline.OutboxRow = recording
    yield
    pipeline.OutboxRow = original
    leaks = [r for r in built if contains_pii(r.url) or contains_pii(r.body.decode("utf-8"))]
    assert not leaks, f"plaintext PII in outbound requests: {leaks[:3]}"

# PostgreSQL for the tests that need it: the machine's server on 127.0.0.1 (never another
# address), a fresh schema per test session or per test, dropped after. Unreachable, those
# tests are skipped with the reason, except under CI=true, where they fail: CI must never
# pass without having run them.
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def drop_schema(name: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL, once it has answered."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}".strip()
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_schema(postgres_url: str):
    """This session's own schema (`tw_<random hex>`), migrated by the first store opened
    on it and dropped when the session ends."""
    name = f"tw_{secrets.token_hex(6)}"
    yield name
    drop_schema(name)


@pytest.fixture
def scratch_schema(postgres_url: str):
    """A schema of the test's own, for tests that migrate or break one; dropped after."""
    name = f"tw_{secrets.token_hex(6)}"
    yield name
    drop_schema(name)
