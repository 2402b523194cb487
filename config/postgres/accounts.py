"""The admin UI's users, clients, memberships, container assignments, sessions and reset
links, with the semantics of `config.sqlite.accounts`. Operator changes write their audit
row in the same transaction; it never holds a password hash, a session token or a reset
token (nor their hashes)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from config.postgres.audit import append_audit
from config.postgres.connection import PostgresConnection, Row
from config.storage import ROLES, Client, Membership, NameTaken, SessionRecord, StorageError, User

__all__ = ["PostgresAccounts"]

_USER_COLUMNS = (
    "id, email, name, password_hash, agency_admin, created_at, disabled, failed_logins,"
    " locked_until"
)
_SESSION_COLUMNS = "token_hash, user_id, csrf, created_at, last_seen"


class PostgresAccounts(PostgresConnection):
    """The `AccountStore` role."""

    # users

    async def create_user(
        self, email: str, name: str, password_hash: str, agency_admin: bool, actor: str, now_ms: int
    ) -> int:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO users (email, email_key, name, password_hash, agency_admin,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (email_key) DO NOTHING RETURNING id",
                (email, _email_key(email), name, password_hash, agency_admin, now_ms),
            )
            row = await cursor.fetchone()
            if row is None:
                raise NameTaken(
                    f"a user with the email {email!r} already exists (emails are compared "
                    "without regard to case); edit that user or choose another email"
                )
            user_id = int(row[0])
            detail = {
                "user_id": user_id,
                "email": email,
                "name": name,
                "agency_admin": agency_admin,
            }
            await append_audit(conn, now_ms, actor, "user.create", None, detail)
            return user_id

    async def get_user(self, user_id: int) -> User | None:
        async with self._transaction() as conn:
            return await _user(conn, user_id)

    async def find_user(self, email: str) -> User | None:
        row = await self._fetchone(
            f"SELECT {_USER_COLUMNS} FROM users WHERE email_key = %s", (_email_key(email),)
        )
        return None if row is None else User(*row)

    async def list_users(self) -> list[User]:
        rows = await self._fetchall(f"SELECT {_USER_COLUMNS} FROM users ORDER BY email_key", ())
        return [User(*row) for row in rows]

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
        async with self._transaction() as conn:
            user = await _user(conn, user_id, lock=True)
            if user is None:
                return False
            if not changes:
                return True
            # The column names come from the fixed list above; the values are bound.
            assignments = ", ".join(f"{column} = %s" for column in changes)
            await conn.execute(
                f"UPDATE users SET {assignments} WHERE id = %s", (*changes.values(), user_id)
            )
            detail = {"user_id": user_id, "email": user.email, **changes}
            await append_audit(conn, now_ms, actor, "user.update", None, detail)
            return True

    async def set_password(self, user_id: int, password_hash: str, actor: str, now_ms: int) -> None:
        async with self._transaction() as conn:
            user = await _existing_user(conn, user_id)
            await conn.execute(
                "UPDATE users SET password_hash = %s, failed_logins = 0, locked_until = 0"
                " WHERE id = %s",
                (password_hash, user_id),
            )
            cursor = await conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
            detail = {"user_id": user_id, "email": user.email, "sessions_ended": cursor.rowcount}
            await append_audit(conn, now_ms, actor, "user.password", None, detail)

    async def login_failed(self, user_id: int, locked_until_ms: int) -> int:
        """The new failure count; 0 when there is no such user (nothing to count on)."""
        row = await self._fetchone(
            "UPDATE users SET failed_logins = failed_logins + 1, locked_until = %s"
            " WHERE id = %s RETURNING failed_logins",
            (locked_until_ms, user_id),
        )
        return 0 if row is None else int(row[0])

    async def login_succeeded(self, user_id: int) -> None:
        await self._execute(
            "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = %s", (user_id,)
        )

    # sessions

    async def create_session(self, session: SessionRecord) -> None:
        await self._execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
            (session.token_hash, session.user_id, session.csrf, session.created_at_ms,
             session.last_seen_ms),
        )  # fmt: skip

    async def get_session(self, token_hash: str) -> SessionRecord | None:
        row = await self._fetchone(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE token_hash = %s", (token_hash,)
        )
        return None if row is None else SessionRecord(*row)

    async def touch_session(self, token_hash: str, now_ms: int) -> None:
        """Remember the session's latest use; an earlier time (a request that was slower
        than a later one) never moves it back."""
        await self._execute(
            "UPDATE sessions SET last_seen = GREATEST(last_seen, %s) WHERE token_hash = %s",
            (now_ms, token_hash),
        )

    async def delete_session(self, token_hash: str) -> None:
        await self._execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))

    async def delete_user_sessions(self, user_id: int) -> int:
        return await self._execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))

    async def expire_sessions(self, idle_before_ms: int, created_before_ms: int) -> int:
        return await self._execute(
            "DELETE FROM sessions WHERE last_seen < %s OR created_at < %s",
            (idle_before_ms, created_before_ms),
        )

    # clients, memberships and containers

    async def create_client(self, client_id: str, name: str, actor: str, now_ms: int) -> None:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO clients (id, name, created_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (client_id, name, now_ms),
            )
            if not cursor.rowcount:
                raise NameTaken(
                    f"a client with the id {client_id!r} already exists; choose another id"
                )
            detail = {"client_id": client_id, "name": name}
            await append_audit(conn, now_ms, actor, "client.create", None, detail)

    async def get_client(self, client_id: str) -> Client | None:
        async with self._transaction() as conn:
            return await _client(conn, client_id)

    async def list_clients(self) -> list[Client]:
        rows = await self._fetchall(
            "SELECT id, name, created_at FROM clients ORDER BY name, id", ()
        )
        return [Client(*row) for row in rows]

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
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "SELECT role FROM memberships WHERE user_id = %s AND client_id = %s FOR UPDATE",
                (user_id, client_id),
            )
            row = await cursor.fetchone()
            previous = None if row is None else str(row[0])
            if role is None:
                if previous is None:
                    return
                await conn.execute(
                    "DELETE FROM memberships WHERE user_id = %s AND client_id = %s",
                    (user_id, client_id),
                )
                user = await _user(conn, user_id)
                email = None if user is None else user.email
            else:
                email = (await _existing_user(conn, user_id)).email
                await _existing_client(conn, client_id)
                await conn.execute(
                    "INSERT INTO memberships (user_id, client_id, role) VALUES (%s, %s, %s)"
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
            await append_audit(conn, now_ms, actor, "membership.set", None, detail)

    async def user_memberships(self, user_id: int) -> list[Membership]:
        """The user's memberships, by client id."""
        rows = await self._fetchall(
            "SELECT user_id, client_id, role FROM memberships WHERE user_id = %s"
            " ORDER BY client_id",
            (user_id,),
        )
        return [Membership(*row) for row in rows]

    async def client_memberships(self, client_id: str) -> list[Membership]:
        """The client's memberships, by user id."""
        rows = await self._fetchall(
            "SELECT user_id, client_id, role FROM memberships WHERE client_id = %s"
            " ORDER BY user_id",
            (client_id,),
        )
        return [Membership(*row) for row in rows]

    async def assign_container(
        self, container_id: str, client_id: str, actor: str, now_ms: int
    ) -> None:
        """The container belongs to the client from now on, moved from the one it belonged
        to before (named in the audit row as `previous`).

        Raises `StorageError` when the client does not exist.
        """
        async with self._transaction() as conn:
            await _existing_client(conn, client_id)
            cursor = await conn.execute(
                "SELECT client_id FROM container_clients WHERE container_id = %s FOR UPDATE",
                (container_id,),
            )
            row = await cursor.fetchone()
            previous = None if row is None else str(row[0])
            await conn.execute(
                "INSERT INTO container_clients (container_id, client_id) VALUES (%s, %s)"
                " ON CONFLICT (container_id) DO UPDATE SET client_id = excluded.client_id",
                (container_id, client_id),
            )
            detail = {"client_id": client_id, "previous": previous}
            await append_audit(conn, now_ms, actor, "container.assign", container_id, detail)

    async def container_client(self, container_id: str) -> str | None:
        row = await self._fetchone(
            "SELECT client_id FROM container_clients WHERE container_id = %s", (container_id,)
        )
        return None if row is None else str(row[0])

    async def client_containers(self, client_id: str) -> list[str]:
        rows = await self._fetchall(
            "SELECT container_id FROM container_clients WHERE client_id = %s"
            " ORDER BY container_id",
            (client_id,),
        )
        return [container_id for (container_id,) in rows]

    # password reset links

    async def create_reset(self, token_hash: str, user_id: int, expires_at_ms: int) -> None:
        await self._execute(
            "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES (%s, %s, %s)",
            (token_hash, user_id, expires_at_ms),
        )

    async def use_reset(self, token_hash: str, now_ms: int) -> int | None:
        # One conditional UPDATE spends the link: of two requests racing for it, the second
        # waits for the first's row lock and then finds `used_at` set.
        row = await self._fetchone(
            "UPDATE password_resets SET used_at = %s"
            " WHERE token_hash = %s AND used_at IS NULL AND expires_at > %s RETURNING user_id",
            (now_ms, token_hash, now_ms),
        )
        return None if row is None else int(row[0])


def _email_key(email: str) -> str:
    """What emails are compared by: the email lower-cased in Python, as the SQLite store
    does, so both backends compare them the same way."""
    return email.lower()


async def _user(conn: AsyncConnection[Row], user_id: int, *, lock: bool = False) -> User | None:
    cursor = await conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (user_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else User(*row)


async def _existing_user(conn: AsyncConnection[Row], user_id: int) -> User:
    """The user, or `StorageError` (stands in for a foreign key to users)."""
    user = await _user(conn, user_id)
    if user is None:
        raise StorageError(f"there is no user with id {user_id}")
    return user


async def _client(conn: AsyncConnection[Row], client_id: str) -> Client | None:
    cursor = await conn.execute(
        "SELECT id, name, created_at FROM clients WHERE id = %s", (client_id,)
    )
    row = await cursor.fetchone()
    return None if row is None else Client(*row)


async def _existing_client(conn: AsyncConnection[Row], client_id: str) -> Client:
    """The client, or `StorageError` (stands in for a foreign key to clients)."""
    client = await _client(conn, client_id)
    if client is None:
        raise StorageError(f"there is no client with id {client_id!r}")
    return client
