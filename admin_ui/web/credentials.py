"""A container's platform secrets and Fire API tokens in the admin UI: owners only.

Secrets are write-only here: set, rotate (set again) and delete; a value is never shown,
not even to the owner who set it. A Fire API token is shown once, on the page that answers
its creation, then only its name and use. The actions are `admin_ui.secrets` and
`admin_ui.tokens`, the same as `tagwire secrets` and `tagwire tokens`.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.audit import Actor
from admin_ui.people import Principal
from admin_ui.secrets import delete_secret, secret_box, set_secret
from admin_ui.tokens import create_token, revoke_token
from admin_ui.web.forms import Form
from admin_ui.web.pages import Pages, PagesStore
from admin_ui.web.render import render
from config.storage import AuditStore, StorageError

__all__ = ["Credentials"]

VIA = "admin UI"


class CredentialsStore(PagesStore, AuditStore, Protocol):
    """What the secrets and tokens forms use (PagesStore holds the secrets, tokens and
    containers already)."""


class Credentials:
    """`secrets_key` is TAGWIRE_SECRETS_KEY (empty: setting a secret is refused with how
    to configure it; listing and deleting still work)."""

    def __init__(self, store: CredentialsStore, pages: Pages, secrets_key: str) -> None:
        self.store = store
        self.pages = pages
        self.secrets_key = secrets_key

    async def _owner(self, request: Request, me: Principal) -> str:
        container_id: str = request.path_params["container"]
        await self.pages.access(me, container_id, "manage")
        return container_id

    def _back(self, request: Request, container_id: str, done: str) -> Response:
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done={done}#credentials", 303)

    async def set_secret(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = await self._owner(request, me)
        assert form is not None
        box = secret_box(self.secrets_key)
        await set_secret(self.store, box, container_id, form.required("name"),
                         form.get("value"), me.actor, self.pages.accounts.clock)  # fmt: skip
        return self._back(request, container_id, "secret")

    async def delete_secret(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = await self._owner(request, me)
        assert form is not None
        await delete_secret(self.store, container_id, form.required("name"), me.actor,
                            self.pages.accounts.clock)  # fmt: skip
        return self._back(request, container_id, "secret_deleted")

    async def create_token(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = await self._owner(request, me)
        assert form is not None
        name = form.required("name")
        try:
            token = await create_token(self.store, container_id, name, Actor(me.actor, VIA),
                                       clock=self.pages.accounts.clock)  # fmt: skip
        except StorageError as exc:
            raise StorageError(f"{exc}; revoke it first or choose another name") from None
        return render(request, "token.html", {"container_id": container_id, "name": name,
                      "token": token})  # fmt: skip

    async def revoke_token(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = await self._owner(request, me)
        assert form is not None
        await revoke_token(self.store, container_id, form.required("name"),
                           Actor(me.actor, VIA), self.pages.accounts.clock)  # fmt: skip
        return self._back(request, container_id, "token_revoked")
