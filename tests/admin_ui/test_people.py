"""Sessions, lockout and reset links through admin_ui.people over a real SQLite store,
with a clock the tests move."""

from __future__ import annotations

import pytest

from admin_ui.errors import FieldError
from admin_ui.people import (
    LOCK_MS,
    SESSION_IDLE_MS,
    SESSION_MAX_MS,
    People,
    SignInRefused,
    token_hash,
)
from config.sqlite_store import SQLiteStore

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def people(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    clock = Clock()
    people = People(store, clock)
    await people.create_user("ann@agency.example", "Ann", PASSWORD, agency_admin=False,
                             actor="test")  # fmt: skip
    yield people, clock
    await store.close()


async def test_an_idle_session_ends_after_two_hours(people):
    people, clock = people
    token, _ = await people.sign_in("ann@agency.example", PASSWORD)
    clock.now += SESSION_IDLE_MS - 1000
    assert await people.session(token) is not None  # seen: the idle time starts again
    clock.now += SESSION_IDLE_MS - 1000
    assert await people.session(token) is not None
    clock.now += SESSION_IDLE_MS + 1
    assert await people.session(token) is None
    assert await people.store.get_session(token_hash(token)) is None  # deleted, not kept


async def test_a_busy_session_still_ends_after_twelve_hours(people):
    people, clock = people
    token, _ = await people.sign_in("ann@agency.example", PASSWORD)
    for _ in range(SESSION_MAX_MS // SESSION_IDLE_MS):
        clock.now += SESSION_IDLE_MS - 60_000
        await people.session(token)
    clock.now += SESSION_IDLE_MS
    assert await people.session(token) is None


async def test_a_disabled_user_loses_the_session(people):
    people, clock = people
    token, _ = await people.sign_in("ann@agency.example", PASSWORD)
    user = await people.store.find_user("ann@agency.example")
    await people.store.update_user(user.id, "test", clock(), disabled=True)
    assert await people.session(token) is None
    with pytest.raises(SignInRefused, match="email or password is wrong"):
        await people.sign_in("ann@agency.example", PASSWORD)


async def test_the_lock_lifts_after_fifteen_minutes_and_success_clears_the_count(people):
    people, clock = people
    for _ in range(5):
        with pytest.raises(SignInRefused, match="wrong"):
            await people.sign_in("ANN@agency.example", "not the password!")
    with pytest.raises(SignInRefused, match="locked for 15 more minute"):
        await people.sign_in("ann@agency.example", PASSWORD)
    clock.now += LOCK_MS + 1
    await people.sign_in("ann@agency.example", PASSWORD)
    user = await people.store.find_user("ann@agency.example")
    assert user.failed_logins == 0


async def test_a_reset_ends_every_session_and_refuses_a_short_password(people):
    people, clock = people
    token, _ = await people.sign_in("ann@agency.example", PASSWORD)
    link, expires = await people.create_reset("ann@agency.example", "admin")
    assert expires == clock() + 24 * 3600 * 1000
    with pytest.raises(FieldError, match="at least 12 characters"):
        await people.reset_password(link, "short")
    await people.reset_password(link, "another good password")
    assert await people.session(token) is None
    with pytest.raises(FieldError, match="used already, has expired or is wrong"):
        await people.reset_password(link, "yet another password")


async def test_an_expired_reset_link_is_refused(people):
    people, clock = people
    link, _ = await people.create_reset("ann@agency.example", "admin")
    clock.now += 24 * 3600 * 1000 + 1
    with pytest.raises(FieldError, match="used already, has expired or is wrong"):
        await people.reset_password(link, "another good password")
