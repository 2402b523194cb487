"""Operator actions on preview sessions: start one on the workspace or a version of a
container, end it, point it at the current workspace.

A session copies the document it previews, so later edits of the workspace do not change
what a phone in the middle of a test runs until someone refreshes the session on purpose.
The nodes read sessions from the shared store (`container.preview`); this module only
writes them, checks the operator's input before anything is stored, and leaves an audit
trail (a `tagwire.audit` line and a stored row) for each action.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Protocol

import orjson

from admin_ui.audit import Actor, audit
from admin_ui.errors import ActionError, FieldError, NotFound
from admin_ui.times import now_ms
from admin_ui.versions import Versions
from config.publishing import ControlPlaneStore, PublishError, check_version_number
from config.storage import PREVIEW_MODES, PreviewSession, PreviewStore

__all__ = [
    "DEFAULT_HOURS",
    "MAX_HOURS",
    "MAX_TEST_CODE",
    "PreviewActions",
    "PreviewActionsStore",
    "check_hours",
    "check_mode",
    "check_source",
    "check_test_code",
]

DEFAULT_HOURS = 8  # a working day of checking on the site
MAX_HOURS = 72  # a long weekend; a preview should not outlive the change it checks
MAX_TEST_CODE = 100
HOUR_MS = 3_600_000


class PreviewActionsStore(PreviewStore, ControlPlaneStore, Protocol):
    """Preview sessions, and the versions and workspace a session copies its document from."""


def check_mode(text: str) -> str:
    if text not in PREVIEW_MODES:
        raise FieldError("mode", f"must be one of {', '.join(PREVIEW_MODES)}")
    return text


def check_hours(value: object) -> int:
    """How long a session lasts: a whole number of hours from 1 to MAX_HOURS, or ASCII
    digits spelling one (a form field)."""
    number = value
    if isinstance(value, str) and value.isascii() and value.strip().isdigit() and len(value) < 8:
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_HOURS:
        raise FieldError("hours", f"{value!r} is not a number of hours from 1 to {MAX_HOURS}")
    return number


def check_test_code(mode: str, text: str | None) -> str | None:
    """The platforms' test event code: required in test mode (the platforms show the
    events under it), printable, at most MAX_TEST_CODE characters; None otherwise."""
    code = (text or "").strip()
    if mode != "test":
        return None
    if not code:
        raise FieldError("test_code", "is required in test mode: the code the platforms show")
    if len(code) > MAX_TEST_CODE or not code.isprintable():
        raise FieldError("test_code", f"give 1 to {MAX_TEST_CODE} printable characters")
    return code


def check_source(text: str) -> str:
    """`workspace`, or a version as `12` or `v12`; the label a session stores (`v12`)."""
    text = text.strip()
    if text == "workspace":
        return text
    digits = text[1:] if text.startswith("v") else text
    try:
        return f"v{check_version_number(digits)}"
    except PublishError:
        raise FieldError("source", "give workspace or a version number") from None


class PreviewActions:
    """The preview actions over one store; every refusal is a FieldError (bad input),
    NotFound (an unknown session) or ActionError (a session that has ended)."""

    def __init__(self, store: PreviewActionsStore, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock
        self.versions = Versions(store, clock=clock)

    async def start(
        self,
        container_id: str,
        source: str,
        mode: str,
        test_code: str | None,
        actor: Actor,
        hours: object = DEFAULT_HOURS,
    ) -> PreviewSession:
        """A new session on the workspace or version `source`, for `hours`."""
        label = check_source(source)
        mode = check_mode(mode)
        code = check_test_code(mode, test_code)
        length = check_hours(hours)
        document = await self._document(container_id, label)
        now = self.clock()
        session = PreviewSession(
            id=secrets.token_urlsafe(16), container_id=container_id, source=label,
            document=document, revision=1, mode=mode, test_code=code, created_by=actor.who,
            created_at_ms=now, expires_at_ms=now + length * HOUR_MS,
        )  # fmt: skip
        await self.store.create_preview(session)
        await self._audit(actor, "start", session, {"source": label, "mode": mode, "hours": length})
        return session

    async def revoke(self, session_id: str, actor: Actor) -> PreviewSession:
        """End a session now: every node stops honouring its cookie within its poll."""
        session = await self._session(session_id)
        if not await self.store.revoke_preview(session.id, self.clock()):
            raise ActionError(f"preview {session.id} has already been revoked")
        await self._audit(actor, "revoke", session, {})
        return await self._session(session.id)

    async def refresh(self, session_id: str, actor: Actor) -> PreviewSession:
        """Point a session at the container's current workspace (its revision grows, so
        the nodes compile it again); the link and its cookies stay valid."""
        session = await self._session(session_id)
        if not session.active(self.clock()):
            raise ActionError(f"preview {session.id} has ended; start a new one")
        document = await self._document(session.container_id, "workspace")
        if not await self.store.refresh_preview(session.id, "workspace", document):
            raise ActionError(f"preview {session.id} has ended; start a new one")
        await self._audit(actor, "refresh", session, {"revision": session.revision + 1})
        return await self._session(session.id)

    async def _session(self, session_id: str) -> PreviewSession:
        found = await self.store.get_preview(session_id)
        if found is None:
            raise NotFound(f"there is no preview {session_id!r}")
        return found

    async def _document(self, container_id: str, label: str) -> bytes:
        """The JSON of the workspace or of version `vN`."""
        ref = label if label == "workspace" else label[1:]
        try:
            document = await self.versions.document(container_id, ref)
        except PublishError as exc:
            raise FieldError("source", str(exc)) from None
        return orjson.dumps(document)

    async def _audit(
        self, actor: Actor, verb: str, session: PreviewSession, detail: dict[str, object]
    ) -> None:
        fields = {"container": session.container_id, "preview": session.id, **detail}
        audit(actor, f"preview {verb}", fields)
        await self.store.add_audit(
            actor.who, f"preview.{verb}", session.container_id,
            {"via": actor.via, "preview": session.id, **detail}, self.clock(),
        )  # fmt: skip
