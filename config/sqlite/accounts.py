"""The admin UI's users, clients, memberships, container assignments, sessions and reset
links. Operator changes write their audit row in the same transaction; it never holds a
password hash, a session token or a reset token (nor their hashes)."""

from __future__ import annotations

import sqlite3
from typing import Any

from config.sqlite.audit import append_audit
from config.sqlite.connection import SQLiteConnection
from config.sqlite.transaction import transaction
from config.storage import ROLES, Client, Membership, NameTaken, SessionRecord, StorageError, User

__all__ = ["SQLiteAccounts"]

_USER_COLUMNS = (
    "id, email, name, password_hash, agency_admin, created_at, disabled, failed_logins,"
    " locked_until"
)
_SESSION_COLUMNS = "token_hash, user_id, csrf, created_at, last_seen"


class SQLiteAccounts(SQLiteConnection):
    """The `AccountStore` role."""

    # users

    async def create_user(
        self, email: str, name: str, password_hash: str, agency_admin: bool, actor: str, now_ms: int
    ) -> int:
        def create(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                try:
                    cursor = conn.execute(
                        "INSERT INTO users (email, email_key, name, password_hash, agency_admin,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (email, _email_key(email), name, password_hash, agency_admin, now_ms),
                    )
                except sqlite3.IntegrityError as exc:
                    if "UNIQUE" not in str(exc):
                        raise
                    raise NameTaken(
                        f"a user with the email {email!r} already exists (emails are compared "
                        "without regard to case); edit that user or choose another email"
                    ) from None
                user_id = int(cursor.lastrowid or 0)
                detail = {
                    "user_id": user_id,
                    "email": email,
                    "name": name,
                    "agency_admin": agency_admin,
                }
                append_audit(conn, now_ms, actor, "user.create", None, detail)
                return user_id

        return await self._run(create)

    async def get_user(self, user_id: int) -> User | None:
        return await self._run(lambda c: _user(c, user_id))

    async def find_user(self, email: str) -> User | None:
        def find(conn: sqlite3.Connection) -> User | None:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE email_key = ?", (_email_key(email),)
            ).fetchone()
            return None if row is None else _user_record(row)

        return await self._run(find)

    async def list_users(self) -> list[User]:
        def users(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY email_key").fetchall()
            return [_user_record(row) for row in rows]

        return await self._run(users)

    async def update_user(
        self,
        user_id: int,
        actor: str,
        now_ms: int,
        *,
        name: str | None = None,
        agency_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> bool:
        changes: dict[str, Any] = {
            column: value
            for column, value in (("name", name), ("agency_admin", agency_admin),
                                  ("disabled", disabled))
            if value is not None
        }  # fmt: skip

        def update(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                user = _user(conn, user_id)
                if user is None:
                    return False
                if not changes:
                    return True
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(
                    f"UPDATE users SET {assignments} WHERE id = ?", (*changes.values(), user_id)
                )
                detail = {"user_id": user_id, "email": user.email, **changes}
                append_audit(conn, now_ms, actor, "user.update", None, detail)
                return True

        return await self._run(update)

    async def set_password(self, user_id: int, password_hash: str, actor: str, now_ms: int) -> None:
        def set_hash(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                user = _existing_user(conn, user_id)
                conn.execute(
                    "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = 0"
                    " WHERE id = ?",
                    (password_hash, user_id),
                )
                ended = conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount
                detail = {"user_id": user_id, "email": user.email, "sessions_ended": ended}
                append_audit(conn, now_ms, actor, "user.password", None, detail)

        await self._run(set_hash)

    async def login_failed(self, user_id: int, locked_until_ms: int) -> int:
        """The new failure count; 0 when there is no such user (nothing to count on)."""

        def failed(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "UPDATE users SET failed_logins = failed_logins + 1, locked_until = ?"
                " WHERE id = ? RETURNING failed_logins",
                (locked_until_ms, user_id),
            ).fetchone()
            return 0 if row is None else int(row[0])

        return await self._run(failed)

    async def login_succeeded(self, user_id: int) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?", (user_id,)
            )
        )

    # sessions

    async def create_session(self, session: SessionRecord) -> None:
        def create(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (session.token_hash, session.user_id, session.csrf, session.created_at_ms,
                 session.last_seen_ms),
            )  # fmt: skip

        await self._run(create)

    async def get_session(self, token_hash: str) -> SessionRecord | None:
        def get(conn: sqlite3.Connection) -> SessionRecord | None:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else SessionRecord(*row)

        return await self._run(get)

    async def touch_session(self, token_hash: str, now_ms: int) -> None:
        """Remember the session's latest use; an earlier time (a request that was slower
        than a later one) never moves it back."""
        await self._run(
            lambda c: c.execute(
                "UPDATE sessions SET last_seen = max(last_seen, ?) WHERE token_hash = ?",
                (now_ms, token_hash),
            )
        )

    async def delete_session(self, token_hash: str) -> None:
        await self._run(
            lambda c: c.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        )

    async def delete_user_sessions(self, user_id: int) -> int:
        return await self._run(
            lambda c: c.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount
        )

    async def expire_sessions(self, idle_before_ms: int, created_before_ms: int) -> int:
        return await self._run(
            lambda c: (
                c.execute(
                    "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                    (idle_before_ms, created_before_ms),
                ).rowcount
            )
        )

    # clients, memberships and containers

    async def create_client(self, client_id: str, name: str, actor: str, now_ms: int) -> None:
        def create(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                try:
                    conn.execute(
                        "INSERT INTO clients (id, name, created_at) VALUES (?, ?, ?)",
                        (client_id, name, now_ms),
                    )
                except sqlite3.IntegrityError as exc:
                    if "UNIQUE" not in str(exc):
                        raise
                    raise NameTaken(
                        f"a client with the id {client_id!r} already exists; choose another id"
                    ) from None
                detail = {"client_id": client_id, "name": name}
                append_audit(conn, now_ms, actor, "client.create", None, detail)

        await self._run(create)

    async def get_client(self, client_id: str) -> Client | None:
        return await self._run(lambda c: _client(c, client_id))

    async def list_clients(self) -> list[Client]:
        def clients(conn: sqlite3.Connection) -> list[Client]:
            rows = conn.execute(
                "SELECT id, name, created_at FROM clients ORDER BY name, id"
            ).fetchall()
            return [Client(*row) for row in rows]

        return await self._run(clients)

    async def set_membership(
        self, user_id: int, client_id: str, role: str | None, actor: str, now_ms: int
    ) -> None:
        """Give the user `role` on the client, or (None) take the membership away. Taking
        away a membership that does not exist changes nothing and writes no audit row.

        Raises `StorageError` when giving a role to a user or on a client that does not
        exist.
        """
        if role is not None and role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; not {role!r}")

        def set_role(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = conn.execute(
                    "SELECT role FROM memberships WHERE user_id = ? AND client_id = ?",
                    (user_id, client_id),
                ).fetchone()
                previous = None if row is None else str(row[0])
                if role is None:
                    if previous is None:
                        return
                    conn.execute(
                        "DELETE FROM memberships WHERE user_id = ? AND client_id = ?",
                        (user_id, client_id),
                    )
                    user = _user(conn, user_id)
                    email = None if user is None else user.email
                else:
                    email = _existing_user(conn, user_id).email
                    _existing_client(conn, client_id)
                    conn.execute(
                        "INSERT INTO memberships (user_id, client_id, role) VALUES (?, ?, ?)"
                        " ON CONFLICT (user_id, client_id) DO UPDATE SET role = excluded.role",
                        (user_id, client_id, role),
                    )
                detail = {
                    "user_id": user_id,
                    "email": email,
                    "client_id": client_id,
                    "role": role,
                    "previous": previous,
                }
                append_audit(conn, now_ms, actor, "membership.set", None, detail)

        await self._run(set_role)

    async def user_memberships(self, user_id: int) -> list[Membership]:
        """The user's memberships, by client id."""

        def memberships(conn: sqlite3.Connection) -> list[Membership]:
            rows = conn.execute(
                "SELECT user_id, client_id, role FROM memberships WHERE user_id = ?"
                " ORDER BY client_id",
                (user_id,),
            ).fetchall()
            return [Membership(*row) for row in rows]

        return await self._run(memberships)

    async def client_memberships(self, client_id: str) -> list[Membership]:
        """The client's memberships, by user id."""

        def memberships(conn: sqlite3.Connection) -> list[Membership]:
            rows = conn.execute(
                "SELECT user_id, client_id, role FROM memberships WHERE client_id = ?"
                " ORDER BY user_id",
                (client_id,),
            ).fetchall()
            return [Membership(*row) for row in rows]

        return await self._run(memberships)

    async def assign_container(
        self, container_id: str, client_id: str, actor: str, now_ms: int
    ) -> None:
        """The container belongs to the client from now on, moved from the one it belonged
        to before (named in the audit row as `previous`).

        Raises `StorageError` when the client does not exist.
        """

        def assign(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                _existing_client(conn, client_id)
                row = conn.execute(
                    "SELECT client_id FROM container_clients WHERE container_id = ?",
                    (container_id,),
                ).fetchone()
                previous = None if row is None else str(row[0])
                conn.execute(
                    "INSERT INTO container_clients (container_id, client_id) VALUES (?, ?)"
                    " ON CONFLICT (container_id) DO UPDATE SET client_id = excluded.client_id",
                    (container_id, client_id),
                )
                detail = {"client_id": client_id, "previous": previous}
                append_audit(conn, now_ms, actor, "container.assign", container_id, detail)

        await self._run(assign)

    async def container_client(self, container_id: str) -> str | None:
        def client(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT client_id FROM container_clients WHERE container_id = ?", (container_id,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(client)

    async def client_containers(self, client_id: str) -> list[str]:
        def containers(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT container_id FROM container_clients WHERE client_id = ?"
                " ORDER BY container_id",
                (client_id,),
            ).fetchall()
            return [container_id for (container_id,) in rows]

        return await self._run(containers)

    # password reset links

    async def create_reset(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (token_hash, user_id, expires_at_ms),
            )
        )

    async def use_reset(self, token_hash: str, now_ms: int) -> int | None:
        def use(conn: sqlite3.Connection) -> int | None:
            # One conditional UPDATE spends the link: of two requests racing for it (on this
            # store or on another process's), only the one whose UPDATE changed the row wins.
            with transaction(conn):
                spent = conn.execute(
                    "UPDATE password_resets SET used_at = ?"
                    " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                    (now_ms, token_hash, now_ms),
                ).rowcount
                if spent != 1:
                    return None
                (user_id,) = conn.execute(
                    "SELECT user_id FROM password_resets WHERE token_hash = ?", (token_hash,)
                ).fetchone()
                return int(user_id)

        return await self._run(use)


def _email_key(email: str) -> str:
    """What emails are compared by: the email lower-cased, in Python (not SQL `lower`, which
    only folds ASCII), so another backend can compare them the same way."""
    return email.lower()


def _user_record(row: tuple[Any, ...]) -> User:
    ident, email, name, password_hash, admin, created, disabled, failed, locked = row
    return User(ident, email, name, password_hash, bool(admin), created, bool(disabled), failed,
                locked)  # fmt: skip


def _user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else _user_record(row)


def _existing_user(conn: sqlite3.Connection, user_id: int) -> User:
    """The user, or `StorageError` (stands in for a foreign key to users)."""
    user = _user(conn, user_id)
    if user is None:
        raise StorageError(f"there is no user with id {user_id}")
    return user


def _client(conn: sqlite3.Connection, client_id: str) -> Client | None:
    row = conn.execute(
        "SELECT id, name, created_at FROM clients WHERE id = ?", (client_id,)
    ).fetchone()
    return None if row is None else Client(*row)


def _existing_client(conn: sqlite3.Connection, client_id: str) -> Client:
    """The client, or `StorageError` (stands in for a foreign key to clients)."""
    client = _client(conn, client_id)
    if client is None:
        raise StorageError(f"there is no client with id {client_id!r}")
    return client
