"""People, sign-in and access: the actions behind the admin UI's sign-in and people pages
and `tagwire users`, in one place so both front ends follow the same rules.

Access is by client: a user holds one role (`config.storage.ROLES`) per client, and an
agency admin acts as owner of every client. `Principal.require` is the one check every
page and form runs on the server before it reads or changes anything of a client.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from admin_ui.errors import FieldError
from admin_ui.passwords import PasswordRejected, check_password, hash_password, verify_password
from admin_ui.times import now_ms
from config.storage import ROLES, AccountStore, Client, SessionRecord, User

__all__ = [
    "ACTIONS",
    "LOCK_AFTER",
    "LOCK_MS",
    "RESET_TTL_MS",
    "SESSION_IDLE_MS",
    "SESSION_MAX_MS",
    "AccessDenied",
    "People",
    "Principal",
    "SignInRefused",
    "check_client_id",
    "check_email",
    "check_name",
    "token_hash",
]

SESSION_IDLE_MS = 2 * 3600 * 1000  # signed out after two idle hours
SESSION_MAX_MS = 12 * 3600 * 1000  # and after twelve hours whatever happens
TOUCH_EVERY_MS = 60 * 1000  # last-seen is written at most once a minute per session
LOCK_AFTER = 5  # consecutive failed sign-ins that lock the account
LOCK_MS = 15 * 60 * 1000
RESET_TTL_MS = 24 * 3600 * 1000

# What each action needs on the client it touches; ROLES orders them.
ACTIONS = {
    "view": "viewer",  # containers, versions, diffs, audit log
    "edit": "editor",  # import into the workspace, create versions, test-fire
    "publish": "publisher",  # publish, roll back, environments
    "manage": "owner",  # people, secrets, Fire API tokens
}

_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
_CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_NAME_MAX = 120
# Compared against when the email is unknown, so a wrong email costs as long as a wrong
# password and timing does not tell which emails have accounts.
_DUMMY_HASH = hash_password("not a password of anyone")


def token_hash(token: str) -> str:
    """Sessions and reset links are stored by this, never by the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_email(text: str) -> str:
    text = text.strip()
    if not _EMAIL.fullmatch(text):
        raise FieldError("email", "must be an email address like name@agency.com")
    return text


def check_name(text: str, field: str = "name") -> str:
    text = text.strip()
    if not text or len(text) > _NAME_MAX or not text.isprintable():
        raise FieldError(field, f"give 1 to {_NAME_MAX} printable characters")
    return text


def check_client_id(text: str) -> str:
    if not _CLIENT_ID.fullmatch(text):
        raise FieldError(
            "client",
            f"{text!r} is not a client id: 1 to 64 lower-case letters, digits, '_' and '-', "
            "starting with a letter or digit",
        )
    return text


class SignInRefused(Exception):
    """Sign-in failed; the message is safe to show (it never says whether the email exists)."""


class AccessDenied(Exception):
    """The signed-in user may not do this; pages answer 403 (or 404 to hide a client)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user and their roles, by client id."""

    user: User
    roles: dict[str, str]

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return self.user.email

    def role(self, client_id: str) -> str | None:
        return "owner" if self.user.agency_admin else self.roles.get(client_id)

    def may(self, action: str, client_id: str) -> bool:
        role = self.role(client_id)
        return role is not None and ROLES.index(role) >= ROLES.index(ACTIONS[action])

    def require(self, action: str, client_id: str) -> None:
        if not self.may(action, client_id):
            raise AccessDenied(f"{action} on client {client_id!r} needs the {ACTIONS[action]} role")

    def visible(self, clients: list[Client]) -> list[Client]:
        """The clients this user may see at all."""
        return [c for c in clients if self.role(c.id) is not None]


class People:
    """The account actions over one store."""

    def __init__(self, store: AccountStore, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock

    async def create_user(
        self, email: str, name: str, password: str, *, agency_admin: bool, actor: str
    ) -> int:
        email, name = check_email(email), check_name(name)
        try:
            check_password(password)
        except PasswordRejected as exc:
            raise FieldError("password", str(exc)) from None
        hashed = await asyncio.to_thread(hash_password, password)
        return await self.store.create_user(email, name, hashed, agency_admin, actor, self.clock())

    async def sign_in(self, email: str, password: str) -> tuple[str, SessionRecord]:
        """A new session (cookie value, record) for the right email and password."""
        user = await self.store.find_user(email.strip())
        now = self.clock()
        if user is not None and user.locked_until_ms > now:
            minutes = -(-(user.locked_until_ms - now) // 60_000)
            raise SignInRefused(
                f"too many failed sign-ins: this account is locked for {minutes} more "
                "minute(s); an owner can also send a password reset link"
            )
        ok = await asyncio.to_thread(
            verify_password, password, user.password_hash if user else _DUMMY_HASH
        )
        if user is None or not ok or user.disabled:
            if user is not None and not user.disabled:
                locks = user.failed_logins + 1 >= LOCK_AFTER
                await self.store.login_failed(user.id, now + LOCK_MS if locks else 0)
            raise SignInRefused("email or password is wrong")
        await self.store.login_succeeded(user.id)
        return await self._new_session(user.id, now)

    async def _new_session(self, user_id: int, now: int) -> tuple[str, SessionRecord]:
        token = secrets.token_urlsafe(32)
        record = SessionRecord(token_hash(token), user_id, secrets.token_urlsafe(32), now, now)
        await self.store.create_session(record)
        return token, record

    async def session(self, token: str) -> tuple[Principal, SessionRecord] | None:
        """The principal of a live session, or None (unknown, expired or user disabled)."""
        if not token or len(token) > 100:
            return None
        record = await self.store.get_session(token_hash(token))
        now = self.clock()
        if record is None:
            return None
        idle, age = now - record.last_seen_ms, now - record.created_at_ms
        if idle > SESSION_IDLE_MS or age > SESSION_MAX_MS:
            await self.store.delete_session(record.token_hash)
            return None
        user = await self.store.get_user(record.user_id)
        if user is None or user.disabled:
            await self.store.delete_session(record.token_hash)
            return None
        if now - record.last_seen_ms > TOUCH_EVERY_MS:
            await self.store.touch_session(record.token_hash, now)
        return await self.principal(user), record

    async def principal(self, user: User) -> Principal:
        memberships = await self.store.user_memberships(user.id)
        return Principal(user, {m.client_id: m.role for m in memberships})

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(token_hash(token))

    async def sign_out_everywhere(self, user_id: int) -> int:
        return await self.store.delete_user_sessions(user_id)

    async def create_reset(self, email: str, actor: str) -> tuple[str, int]:
        """A one-time reset token for the user with `email` and when it expires."""
        user = await self.store.find_user(check_email(email))
        if user is None:
            raise FieldError("email", "no user has this email")
        token = secrets.token_urlsafe(32)
        expires = self.clock() + RESET_TTL_MS
        await self.store.create_reset(token_hash(token), user.id, expires)
        return token, expires

    async def reset_password(self, token: str, password: str) -> None:
        """Spend the link and set the password; every session of the user ends."""
        try:
            check_password(password)
        except PasswordRejected as exc:
            raise FieldError("password", str(exc)) from None
        user_id = await self.store.use_reset(token_hash(token), self.clock())
        if user_id is None:
            raise FieldError("link", "this reset link was used already, has expired or is wrong")
        hashed = await asyncio.to_thread(hash_password, password)
        await self.store.set_password(user_id, hashed, "password reset link", self.clock())
