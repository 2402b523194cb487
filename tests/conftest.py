from typing import Any

import pytest

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
