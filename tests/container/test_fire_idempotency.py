"""Idempotency keys: their form, the body fingerprint and the per-key lock."""

from __future__ import annotations

import asyncio

import pytest

from container.fire_idempotency import KeyLocks, fingerprint, valid_key


@pytest.mark.parametrize("key", ["a", "3f0c9a52-8d1e-4d7a-9b7e-0d2f1c9a6e41", "~" * 255])
def test_valid_keys(key: str) -> None:
    assert valid_key(key)


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "é", "a\n"])
def test_invalid_keys(key: str) -> None:
    assert not valid_key(key)


def test_fingerprint_ignores_key_order_but_not_values_or_container() -> None:
    body = {"event": "lead", "data": {"value": 1, "currency": "EUR"}}
    same = {"data": {"currency": "EUR", "value": 1}, "event": "lead"}
    assert fingerprint("shop", body) == fingerprint("shop", same)
    assert fingerprint("shop", body) != fingerprint("blog", body)
    assert fingerprint("shop", body) != fingerprint("shop", {**body, "event": "purchase"})
    assert fingerprint("shop", [body]) != fingerprint("shop", body)


def test_fingerprint_refuses_absurd_nesting() -> None:
    deep: list = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(TypeError):
        fingerprint("shop", deep)


@pytest.mark.anyio
async def test_holders_of_one_key_take_turns_and_the_lock_is_dropped_after() -> None:
    locks = KeyLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.hold("shop", "k"):
            first_in.set()
            await release.wait()
            order.append("first")

    async def second() -> None:
        async with locks.hold("shop", "k"):
            order.append("second")

    one = asyncio.create_task(first())
    await first_in.wait()
    two = asyncio.create_task(second())
    while locks.users("shop", "k") < 2:
        await asyncio.sleep(0)
    async with locks.hold("shop", "other"):  # another key is not blocked
        order.append("other")
    release.set()
    await asyncio.gather(one, two)
    assert order == ["other", "first", "second"]
    assert locks.users("shop", "k") == 0
    assert locks._locks == {}


@pytest.mark.anyio
async def test_the_lock_is_released_when_the_holder_fails() -> None:
    locks = KeyLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold("shop", "k"):
            raise RuntimeError("boom")
    assert locks.users("shop", "k") == 0
    async with locks.hold("shop", "k"):
        assert locks.users("shop", "k") == 1
