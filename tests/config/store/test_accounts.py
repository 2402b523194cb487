"""The `AccountStore` role of both stores (config/sqlite/accounts.py,
config/postgres/accounts.py): users, clients, memberships, container assignments, sessions
and reset links, and their audit rows."""

import asyncio
import hashlib

import pytest

from config.storage import (
    AccountStore,
    Client,
    Membership,
    NameTaken,
    SessionRecord,
    StorageError,
    Store,
)
from tests.config.store.support import detail, query, twin

pytestmark = pytest.mark.anyio

MINUTE = 60_000
HASH = "scrypt$n=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
OTHER_HASH = "scrypt$n=16384,r=8,p=1$b3RoZXJzYWx0$bmV3aGFzaG5ld2hhc2g"


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def session(token, user_id, *, created=1000, seen=None, csrf="csrf-1"):
    return SessionRecord(sha256(token), user_id, csrf, created, created if seen is None else seen)


async def audit_rows(store):
    """(actor, action, container_id, detail) of every audit row, oldest first."""
    entries = await store.audit_log(None, 100)
    return [(e.actor, e.action, e.container_id, e.detail) for e in reversed(entries)]


# the role


async def test_the_store_is_an_account_store_and_a_whole_store(store):
    assert isinstance(store, AccountStore)
    assert isinstance(store, Store)


# users


async def test_a_user_is_created_got_and_found_by_email_whatever_its_case(store):
    user_id = await store.create_user("Ana@Example.com", "Ana", HASH, True, "root", 1000)
    user = await store.get_user(user_id)
    assert user is not None
    assert (user.id, user.email, user.name, user.password_hash) == (
        user_id, "Ana@Example.com", "Ana", HASH,
    )  # fmt: skip
    assert (user.agency_admin, user.created_at_ms, user.disabled) == (True, 1000, False)
    assert (user.failed_logins, user.locked_until_ms) == (0, 0)
    assert await store.find_user("ana@example.com") == user
    assert await store.find_user("ANA@EXAMPLE.COM") == user
    assert await store.find_user("bo@example.com") is None
    assert await store.get_user(user_id + 1) is None


async def test_an_email_is_taken_whatever_its_case(store):
    first = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1000)
    with pytest.raises(NameTaken, match=r"'ANA@example\.COM' already exists"):
        await store.create_user("ANA@example.COM", "Other Ana", OTHER_HASH, True, "root", 2000)
    assert [u.id for u in await store.list_users()] == [first]
    assert [e.action for e in await store.audit_log(None, 10)] == ["user.create"]


async def test_users_are_listed_by_email_ignoring_case(store):
    await store.create_user("cy@example.com", "Cy", HASH, False, "root", 1)
    await store.create_user("Bo@example.com", "Bo", HASH, False, "root", 2)
    await store.create_user("ana@example.com", "Ana", HASH, False, "root", 3)
    assert [u.email for u in await store.list_users()] == [
        "ana@example.com", "Bo@example.com", "cy@example.com",
    ]  # fmt: skip


async def test_a_user_is_updated_field_by_field(store):
    user_id = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1000)
    assert await store.update_user(user_id, "root", 2000, name="Ana Lima") is True
    user = await store.get_user(user_id)
    assert (user.name, user.agency_admin, user.disabled) == ("Ana Lima", False, False)
    assert await store.update_user(user_id, "root", 3000, agency_admin=True, disabled=True)
    user = await store.get_user(user_id)
    assert (user.name, user.agency_admin, user.disabled) == ("Ana Lima", True, True)
    assert await store.update_user(user_id, "root", 4000, disabled=False)
    assert (await store.get_user(user_id)).disabled is False
    assert await store.update_user(user_id + 1, "root", 5000, name="Nobody") is False
    assert await store.update_user(user_id, "root", 6000) is True  # nothing to change
    updates = [row for row in await audit_rows(store) if row[1] == "user.update"]
    assert updates == [
        ("root", "user.update", None,
         {"user_id": user_id, "email": "ana@example.com", "name": "Ana Lima"}),
        ("root", "user.update", None,
         {"user_id": user_id, "email": "ana@example.com", "agency_admin": True,
          "disabled": True}),
        ("root", "user.update", None,
         {"user_id": user_id, "email": "ana@example.com", "disabled": False}),
    ]  # fmt: skip


async def test_failed_sign_ins_are_counted_and_lock_until_a_success(store):
    user_id = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1000)
    assert await store.login_failed(user_id, 0) == 1
    assert await store.login_failed(user_id, 0) == 2
    assert await store.login_failed(user_id, 9000) == 3
    user = await store.get_user(user_id)
    assert (user.failed_logins, user.locked_until_ms) == (3, 9000)
    await store.login_succeeded(user_id)
    user = await store.get_user(user_id)
    assert (user.failed_logins, user.locked_until_ms) == (0, 0)
    assert await store.login_failed(user_id, 0) == 1
    assert await store.login_failed(user_id + 1, 9000) == 0
    assert [e.action for e in await store.audit_log(None, 10)] == ["user.create"]


async def test_a_new_password_clears_the_lock_and_ends_every_session_of_the_user(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1000)
    bo = await store.create_user("bo@example.com", "Bo", HASH, False, "root", 1000)
    await store.login_failed(ana, 50_000)
    await store.login_failed(ana, 50_000)
    await store.create_session(session("ana-laptop", ana))
    await store.create_session(session("ana-phone", ana))
    await store.create_session(session("bo-laptop", bo))
    await store.set_password(ana, OTHER_HASH, "ana", 2000)
    user = await store.get_user(ana)
    assert (user.password_hash, user.failed_logins, user.locked_until_ms) == (OTHER_HASH, 0, 0)
    assert await store.get_session(sha256("ana-laptop")) is None
    assert await store.get_session(sha256("ana-phone")) is None
    assert await store.get_session(sha256("bo-laptop")) == session("bo-laptop", bo)
    assert (await store.get_user(bo)).password_hash == HASH
    assert (await audit_rows(store))[-1] == (
        "ana", "user.password", None,
        {"user_id": ana, "email": "ana@example.com", "sessions_ended": 2},
    )  # fmt: skip


async def test_a_password_for_a_user_that_does_not_exist_is_refused(store):
    with pytest.raises(StorageError, match="no user with id 7"):
        await store.set_password(7, OTHER_HASH, "root", 2000)
    assert await store.audit_log(None, 10) == []


# sessions


async def test_a_session_is_created_got_touched_and_deleted(store):
    user_id = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1000)
    record = session("cookie-1", user_id, created=1000, csrf="csrf-abc")
    await store.create_session(record)
    assert await store.get_session(sha256("cookie-1")) == record
    assert await store.get_session(sha256("cookie-2")) is None
    await store.touch_session(sha256("cookie-1"), 5000)
    touched = await store.get_session(sha256("cookie-1"))
    assert (touched.created_at_ms, touched.last_seen_ms, touched.csrf) == (1000, 5000, "csrf-abc")
    await store.touch_session(sha256("cookie-1"), 4000)  # a slower, earlier request
    assert (await store.get_session(sha256("cookie-1"))).last_seen_ms == 5000
    await store.delete_session(sha256("cookie-1"))
    assert await store.get_session(sha256("cookie-1")) is None
    await store.delete_session(sha256("cookie-1"))  # deleting it again is harmless


async def test_a_session_token_hash_is_unique(store):
    await store.create_session(session("cookie-1", 1))
    with pytest.raises(StorageError):
        await store.create_session(session("cookie-1", 2))
    assert (await store.get_session(sha256("cookie-1"))).user_id == 1


async def test_a_user_is_signed_out_everywhere(store):
    await store.create_session(session("a1", 1))
    await store.create_session(session("a2", 1))
    await store.create_session(session("b1", 2))
    assert await store.delete_user_sessions(1) == 2
    assert await store.delete_user_sessions(1) == 0
    assert await store.get_session(sha256("a1")) is None
    assert await store.get_session(sha256("a2")) is None
    assert await store.get_session(sha256("b1")) is not None
    assert await store.audit_log(None, 10) == []


async def test_sessions_expire_when_idle_or_too_old(store):
    await store.create_session(session("idle", 1, created=10 * MINUTE, seen=20 * MINUTE))
    await store.create_session(session("old", 1, created=5 * MINUTE, seen=95 * MINUTE))
    await store.create_session(session("fresh", 1, created=30 * MINUTE, seen=95 * MINUTE))
    await store.create_session(session("edge", 1, created=10 * MINUTE, seen=60 * MINUTE))
    # Idle since before minute 60, or made before minute 10: gone. Exactly at a bound: kept.
    assert await store.expire_sessions(60 * MINUTE, 10 * MINUTE) == 2
    kept = [token for token in ("idle", "old", "fresh", "edge")
            if await store.get_session(sha256(token)) is not None]  # fmt: skip
    assert kept == ["fresh", "edge"]
    assert await store.expire_sessions(60 * MINUTE, 10 * MINUTE) == 0


# clients, memberships and containers


async def test_clients_are_created_got_and_listed_by_name_then_id(store):
    await store.create_client("zeta", "Acme", "root", 1000)
    await store.create_client("alpha", "Acme", "root", 2000)
    await store.create_client("beta", "Bakery", "root", 3000)
    assert await store.get_client("zeta") == Client("zeta", "Acme", 1000)
    assert await store.get_client("nope") is None
    assert [c.id for c in await store.list_clients()] == ["alpha", "zeta", "beta"]


async def test_a_client_id_is_taken(store):
    await store.create_client("acme", "Acme", "root", 1000)
    with pytest.raises(NameTaken, match="client with the id 'acme' already exists"):
        await store.create_client("acme", "Acme Again", "root", 2000)
    assert await store.list_clients() == [Client("acme", "Acme", 1000)]
    assert [e.action for e in await store.audit_log(None, 10)] == ["client.create"]


async def test_memberships_are_set_changed_and_removed(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1)
    bo = await store.create_user("bo@example.com", "Bo", HASH, False, "root", 2)
    await store.create_client("acme", "Acme", "root", 3)
    await store.create_client("bakery", "Bakery", "root", 4)
    await store.set_membership(ana, "bakery", "viewer", "root", 10)
    await store.set_membership(ana, "acme", "editor", "root", 11)
    await store.set_membership(bo, "acme", "owner", "root", 12)
    assert await store.user_memberships(ana) == [
        Membership(ana, "acme", "editor"), Membership(ana, "bakery", "viewer"),
    ]  # fmt: skip
    assert await store.client_memberships("acme") == [
        Membership(ana, "acme", "editor"), Membership(bo, "acme", "owner"),
    ]  # fmt: skip

    await store.set_membership(ana, "acme", "publisher", "bo", 13)
    assert await store.client_memberships("acme") == [
        Membership(ana, "acme", "publisher"), Membership(bo, "acme", "owner"),
    ]  # fmt: skip
    await store.set_membership(ana, "acme", None, "bo", 14)
    assert await store.user_memberships(ana) == [Membership(ana, "bakery", "viewer")]
    assert await store.client_memberships("acme") == [Membership(bo, "acme", "owner")]
    await store.set_membership(ana, "acme", None, "bo", 15)  # nothing left to take away

    rows = [row for row in await audit_rows(store) if row[1] == "membership.set"]
    assert [(actor, detail) for actor, _, container, detail in rows if container is None] == [
        ("root", {"user_id": ana, "email": "ana@example.com", "client_id": "bakery",
                  "role": "viewer", "previous": None}),
        ("root", {"user_id": ana, "email": "ana@example.com", "client_id": "acme",
                  "role": "editor", "previous": None}),
        ("root", {"user_id": bo, "email": "bo@example.com", "client_id": "acme",
                  "role": "owner", "previous": None}),
        ("bo", {"user_id": ana, "email": "ana@example.com", "client_id": "acme",
                "role": "publisher", "previous": "editor"}),
        ("bo", {"user_id": ana, "email": "ana@example.com", "client_id": "acme",
                "role": None, "previous": "publisher"}),
    ]  # fmt: skip


async def test_a_role_that_does_not_exist_is_refused(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1)
    await store.create_client("acme", "Acme", "root", 2)
    with pytest.raises(ValueError, match="role must be one of viewer, editor, publisher, owner"):
        await store.set_membership(ana, "acme", "admin", "root", 3)
    assert await store.user_memberships(ana) == []
    assert query(store, "SELECT COUNT(*) FROM audit WHERE action = 'membership.set'") == [(0,)]


async def test_a_membership_needs_an_existing_user_and_client(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1)
    await store.create_client("acme", "Acme", "root", 2)
    with pytest.raises(StorageError, match="no user with id"):
        await store.set_membership(ana + 1, "acme", "viewer", "root", 3)
    with pytest.raises(StorageError, match="no client with id 'nope'"):
        await store.set_membership(ana, "nope", "viewer", "root", 4)
    assert await store.client_memberships("acme") == []
    assert await store.user_memberships(ana) == []
    assert [e.action for e in await store.audit_log(None, 10)] == ["client.create", "user.create"]


async def test_a_container_is_assigned_and_moved_to_another_client(store):
    await store.create_client("acme", "Acme", "root", 1)
    await store.create_client("bakery", "Bakery", "root", 2)
    assert await store.container_client("shop") is None
    await store.assign_container("shop", "acme", "root", 10)
    await store.assign_container("blog", "acme", "root", 11)
    assert await store.container_client("shop") == "acme"
    assert await store.client_containers("acme") == ["blog", "shop"]
    await store.assign_container("shop", "bakery", "ana", 12)
    assert await store.container_client("shop") == "bakery"
    assert await store.client_containers("acme") == ["blog"]
    assert await store.client_containers("bakery") == ["shop"]
    assert await store.client_containers("nope") == []
    assert [(e.actor, e.action, e.detail) for e in await store.audit_log("shop", 10)] == [
        ("ana", "container.assign", {"client_id": "bakery", "previous": "acme"}),
        ("root", "container.assign", {"client_id": "acme", "previous": None}),
    ]


async def test_a_container_cannot_go_to_a_client_that_does_not_exist(store):
    with pytest.raises(StorageError, match="no client with id 'nope'"):
        await store.assign_container("shop", "nope", "root", 10)
    assert await store.container_client("shop") is None
    assert await store.audit_log(None, 10) == []


# password reset links


async def test_a_reset_link_works_once(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, False, "root", 1)
    await store.create_reset(sha256("reset-1"), ana, 10 * MINUTE)
    assert await store.use_reset(sha256("reset-1"), 5 * MINUTE) == ana
    assert await store.use_reset(sha256("reset-1"), 5 * MINUTE + 1) is None
    assert await store.use_reset(sha256("never-made"), 5 * MINUTE) is None
    assert query(store, "SELECT used_at FROM password_resets") == [(5 * MINUTE,)]


async def test_an_expired_reset_link_is_refused(store):
    await store.create_reset(sha256("reset-1"), 1, 10 * MINUTE)
    assert await store.use_reset(sha256("reset-1"), 10 * MINUTE) is None
    assert await store.use_reset(sha256("reset-1"), 11 * MINUTE) is None
    assert query(store, "SELECT used_at FROM password_resets") == [(None,)]


async def test_two_racing_uses_of_a_reset_link_give_the_user_once(store):
    await store.create_reset(sha256("reset-1"), 42, 10 * MINUTE)
    results = await asyncio.gather(*(store.use_reset(sha256("reset-1"), 1000) for _ in range(2)))
    assert sorted(results, key=str) == [42, None]


async def test_two_processes_racing_for_a_reset_link_give_the_user_once(store):
    other = twin(store)
    await other.open()
    try:
        for n in range(20):
            token = sha256(f"reset-{n}")
            await store.create_reset(token, 42, 10 * MINUTE)
            results = await asyncio.gather(
                store.use_reset(token, 1000), other.use_reset(token, 1000)
            )
            assert sorted(results, key=str) == [42, None]
    finally:
        await other.close()


# audit


async def test_operator_changes_are_audited_without_any_secret(store):
    ana = await store.create_user("ana@example.com", "Ana", HASH, True, "root", 1000)
    await store.update_user(ana, "root", 1100, disabled=True)
    await store.set_password(ana, OTHER_HASH, "root", 1200)
    await store.create_client("acme", "Acme", "root", 1300)
    await store.set_membership(ana, "acme", "owner", "root", 1400)
    await store.assign_container("shop", "acme", "root", 1500)
    await store.create_session(session("cookie-secret-7f3a", ana))
    await store.touch_session(sha256("cookie-secret-7f3a"), 1600)
    await store.login_failed(ana, 0)
    await store.login_succeeded(ana)
    await store.create_reset(sha256("reset-secret-9c1e"), ana, 10_000)
    assert await store.use_reset(sha256("reset-secret-9c1e"), 1700) == ana
    await store.delete_user_sessions(ana)

    audit = query(store, "SELECT at_ms, actor, action, container_id, detail FROM audit ORDER BY id")
    assert [(at, action, container) for at, _, action, container, _ in audit] == [
        (1000, "user.create", None),
        (1100, "user.update", None),
        (1200, "user.password", None),
        (1300, "client.create", None),
        (1400, "membership.set", None),
        (1500, "container.assign", "shop"),
    ]
    assert {actor for _, actor, _, _, _ in audit} == {"root"}
    assert [detail(row[4]).get("client_id") for row in audit[3:]] == ["acme"] * 3
    flat = repr(audit)
    for secret in (HASH, OTHER_HASH, "c2FsdHNhbHQ", "bmV3aGFzaG5ld2hhc2g", "cookie-secret-7f3a",
                   sha256("cookie-secret-7f3a"), "reset-secret-9c1e",
                   sha256("reset-secret-9c1e"), "csrf-1"):  # fmt: skip
        assert secret not in flat, secret
    assert query(store, "SELECT password_hash FROM users") == [(OTHER_HASH,)]
