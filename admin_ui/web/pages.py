"""The admin pages behind sign-in: clients, containers, versions, publishing, audit, people.

Each handler checks on the server the role it needs on the client it touches, through
`Principal.require`, before it reads or changes that client's data. A container belongs
to one client; one that belongs to none yet (imported with the CLI) is seen by agency
admins only, until they assign it. A client the user may not see answers 404, as an
unknown one does, so ids of other clients cannot be probed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.audit import audit_entries
from admin_ui.containers import check_container_id
from admin_ui.errors import FieldError, NotFound
from admin_ui.people import AccessDenied, People, Principal, check_client_id, check_name
from admin_ui.secrets import secret_records
from admin_ui.times import parse_time
from admin_ui.tokens import token_records
from admin_ui.versions import Versions
from admin_ui.web.forms import Form
from admin_ui.web.render import render
from config.canonical import canonical
from config.diff import diff_documents
from config.publishing import ControlPlaneStore, PublishError, check_env_name, check_version_number
from config.storage import ROLES, AccountStore, Client, NameTaken, SecretStore, TokenStore
from tags.package import SHIPPED

__all__ = ["Pages", "place_item"]

AUDIT_ROWS = 500
# Shipped starting points for a new container (admin_ui/web/starters/NAME.json): triggers
# and platform tags with placeholder ids and secret names to replace before publishing.
STARTERS = {
    "lead-generation": "Lead generation: Meta, LinkedIn, Google Ads and GA4 on leads",
    "online-shop": "Online shop: Meta, TikTok and GA4 on purchases",
}
_STARTERS = Path(__file__).parent / "starters"
# Messages a redirect may show, by code: a query string never puts text on a page.
DONE = {
    "client": "Client created.",
    "member": "Access updated.",
    "imported": "Workspace saved.",
    "unchanged": "The workspace already held this document.",
    "version": "Version created.",
    "published": "Published.",
    "rolledback": "Rolled back.",
    "assigned": "Container assigned.",
    "user": "User created.",
    "secret": "Secret saved. Its value is not shown again.",
    "secret_deleted": "Secret deleted.",
    "token_revoked": "Token revoked: calls with it get 403 from now on.",
    "removed": "Environment removed.",
}


class PagesStore(AccountStore, ControlPlaneStore, SecretStore, TokenStore, Protocol):
    """What the pages read and change."""


def _done(request: Request) -> str:
    return DONE.get(request.query_params.get("done", ""), "")


def _go(request: Request, path: str, done: str) -> Response:
    return RedirectResponse(f"{request.scope['root_path']}{path}?done={done}", 303)


def _form(form: Form | None) -> Form:
    assert form is not None, "POST handlers always get the form"
    return form


class Pages:
    def __init__(self, store: PagesStore, people: People, versions: Versions) -> None:
        self.store = store
        self.accounts = people
        self.versions = versions

    # --- lookups that enforce access ----------------------------------------------------

    async def require_client(self, me: Principal, client_id: str, action: str) -> Client:
        """The client, when `me` may do `action` on it; 404 when `me` may not even see it."""
        client = await self.store.get_client(client_id)
        if client is None or me.role(client_id) is None:
            raise NotFound(f"there is no client {client_id!r} you can see")
        me.require(action, client_id)
        return client

    async def access(self, me: Principal, container_id: str, action: str) -> Client | None:
        """The client of a container `me` may do `action` on (None: unassigned, admins only)."""
        check_container_id(container_id)
        if container_id not in await self.store.list_containers():
            raise NotFound(f"there is no container {container_id!r} you can see")
        client_id = await self.store.container_client(container_id)
        if client_id is None:
            if not me.user.agency_admin:
                raise NotFound(f"there is no container {container_id!r} you can see")
            return None
        return await self.require_client(me, client_id, action)

    async def workspace_document(
        self, me: Principal, container_id: str, action: str
    ) -> dict[str, Any]:
        """The container's workspace document, when `me` may do `action` on it (the
        editors read it with "view" and change it with "edit")."""
        await self.access(me, container_id, action)
        workspace = await self.store.get_workspace(container_id)
        if workspace is None:
            raise NotFound(f"container {container_id!r} has no workspace")
        doc: dict[str, Any] = orjson.loads(workspace.document)
        return doc

    # --- clients --------------------------------------------------------------------------

    async def home(self, request: Request, me: Principal, form: Form | None) -> Response:
        return RedirectResponse(f"{request.scope['root_path']}/clients", 303)

    async def clients(self, request: Request, me: Principal, form: Form | None) -> Response:
        visible = me.visible(await self.store.list_clients())
        environments = await self.store.list_environments(None)
        rows = []
        for client in visible:
            ids = await self.store.client_containers(client.id)
            live = [e for e in environments if e.container_id in ids and e.name == "live"]
            rows.append(
                {"client": client, "containers": ids, "live": live, "role": me.role(client.id)}
            )
        unassigned: list[str] = []
        if me.user.agency_admin:
            for container_id in await self.store.list_containers():
                if await self.store.container_client(container_id) is None:
                    unassigned.append(container_id)
        return render(
            request,
            "clients.html",
            {
                "rows": rows,
                "unassigned": unassigned,
                "all_clients": visible,
                "done": _done(request),
            },
        )

    async def create_client(self, request: Request, me: Principal, form: Form | None) -> Response:
        if not me.user.agency_admin:
            raise AccessDenied("only agency admins create clients")
        form = _form(form)
        client_id = check_client_id(form.required("id"))
        name = check_name(form.required("name"))
        try:
            await self.store.create_client(client_id, name, me.actor, self.accounts.clock())
        except NameTaken:
            raise FieldError("id", f"a client {client_id!r} exists already") from None
        return _go(request, f"/clients/{client_id}", "client")

    async def client(self, request: Request, me: Principal, form: Form | None) -> Response:
        client = await self.require_client(me, request.path_params["client"], "view")
        ids = await self.store.client_containers(client.id)
        environments = [
            e for e in await self.store.list_environments(None) if e.container_id in ids
        ]
        members = []
        if me.may("manage", client.id):
            users = {u.id: u for u in await self.store.list_users()}
            members = [
                (users[m.user_id], m.role)
                for m in await self.store.client_memberships(client.id)
                if m.user_id in users
            ]
        return render(
            request,
            "client.html",
            {
                "client": client,
                "containers": ids,
                "environments": environments,
                "members": members,
                "roles": ROLES,
                "role": me.role(client.id),
                "may_edit": me.may("edit", client.id),
                "may_manage": me.may("manage", client.id),
                "starters": STARTERS,
                "done": _done(request),
            },
        )

    async def set_member(self, request: Request, me: Principal, form: Form | None) -> Response:
        client = await self.require_client(me, request.path_params["client"], "manage")
        form = _form(form)
        user = await self.store.find_user(form.required("email"))
        if user is None:
            raise FieldError("email", "no user has this email; an agency admin creates users")
        role = form.required("role")
        if role not in (*ROLES, "none"):
            raise FieldError("role", f"must be one of {', '.join(ROLES)} or none")
        await self.store.set_membership(
            user.id, client.id, None if role == "none" else role, me.actor, self.accounts.clock()
        )
        return _go(request, f"/clients/{client.id}", "member")

    async def member_reset(self, request: Request, me: Principal, form: Form | None) -> Response:
        """A one-time reset link for a person with a role on the client, made by one of its
        owners (agency admins make them for anyone on the people page). An owner cannot
        reset an agency admin's password or that of someone outside the client."""
        client = await self.require_client(me, request.path_params["client"], "manage")
        email = _form(form).required("email")
        user = await self.store.find_user(email)
        members = {m.user_id for m in await self.store.client_memberships(client.id)}
        if user is None or user.id not in members or (
            user.agency_admin and not me.user.agency_admin
        ):
            raise FieldError("email", "give the email of a person with a role on this client")
        token, expires = await self.accounts.create_reset(email, me.actor)
        link = f"{request.url.scheme}://{request.url.netloc}{request.scope['root_path']}/reset/{token}"
        return render(request, "reset_link.html", {"client": client, "email": user.email,
                      "link": link, "expires": expires})  # fmt: skip

    async def import_container(
        self, request: Request, me: Principal, form: Form | None
    ) -> Response:
        """A new container of the client: from a pasted document (its id names the
        container), or a blank one from an id, a name and the site's domain."""
        client = await self.require_client(me, request.path_params["client"], "edit")
        form = _form(form)
        doc = _document(form) if form.get("document").strip() else _blank(form)
        head = doc.get("container")
        container_id = head.get("id") if isinstance(head, dict) else None
        if isinstance(container_id, str) and container_id in await self.store.list_containers():
            owner = await self.store.container_client(container_id)
            if owner != client.id:
                raise FieldError(
                    "document", f"container id {container_id!r} is taken; choose another"
                )
        imported = await self.versions.import_document(doc, me.actor, "admin UI")
        await self.store.assign_container(
            imported.container_id, client.id, me.actor, self.accounts.clock()
        )
        return _go(request, f"/containers/{imported.container_id}", "imported")

    # --- containers -----------------------------------------------------------------------

    async def assign(self, request: Request, me: Principal, form: Form | None) -> Response:
        if not me.user.agency_admin:
            raise AccessDenied("only agency admins assign containers to clients")
        container_id = request.path_params["container"]
        await self.access(me, container_id, "manage")
        client = await self.require_client(me, _form(form).required("client"), "manage")
        await self.store.assign_container(container_id, client.id, me.actor, self.accounts.clock())
        return _go(request, f"/containers/{container_id}", "assigned")

    async def container(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        client = await self.access(me, container_id, "view")
        listing = await self.versions.listing(container_id, include_archived=False)
        workspace = await self.store.get_workspace(container_id)
        changed = None
        text = ""
        document: dict[str, Any] = {}
        if workspace is not None:
            document = orjson.loads(workspace.document)
            text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
            if listing.versions:
                latest = await self.versions.document(container_id, str(listing.versions[0].number))
                changed = canonical(latest) != canonical(document)
            else:
                changed = True
        client_id = client.id if client else None

        def may(action: str) -> bool:
            return me.user.agency_admin if client_id is None else me.may(action, client_id)

        origin = f"{request.url.scheme}://{request.url.netloc}"
        secrets, tokens = [], []
        if may("manage"):
            secrets = await secret_records(self.store, container_id)
            tokens = [t for t in await token_records(self.store, container_id) if not t["admin"]]
        return render(
            request,
            "container.html",
            {
                "container_id": container_id,
                "client": client,
                "listing": listing,
                "workspace": workspace,
                "changed": changed,
                "text": text,
                "may_edit": may("edit"),
                "may_publish": may("publish"),
                "may_manage": may("manage"),
                "tags": document.get("tags", []),
                "triggers": document.get("triggers", []),
                "own_templates": document.get("templates", []),
                "variables": document.get("variables", []),
                "templates": SHIPPED,
                "secrets": secrets,
                "tokens": tokens,
                "origin": origin,
                "clients": me.visible(await self.store.list_clients()) if client is None else [],
                "done": _done(request),
            },
        )

    async def workspace(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        await self.access(me, container_id, "edit")
        doc = _document(_form(form))
        head = doc.get("container")
        if not isinstance(head, dict) or head.get("id") != container_id:
            raise FieldError("document", f"container.id must stay {container_id!r}")
        imported = await self.versions.import_document(doc, me.actor, "admin UI")
        done = "imported" if imported.changed else "unchanged"
        return _go(request, f"/containers/{container_id}", done)

    async def create_version(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        await self.access(me, container_id, "edit")
        note = _form(form).get("note").strip()
        if len(note) > 500:
            raise FieldError("note", "at most 500 characters")
        await self.versions.create_version(container_id, me.actor, note)
        return _go(request, f"/containers/{container_id}", "version")

    async def diff(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        await self.access(me, container_id, "view")
        old_ref = _ref(request.query_params.get("from", ""), "from")
        new_ref = _ref(request.query_params.get("to", "workspace"), "to")
        diff = diff_documents(
            await self.versions.document(container_id, old_ref),
            await self.versions.document(container_id, new_ref),
        )
        return render(
            request,
            "diff.html",
            {"container_id": container_id, "old": old_ref, "new": new_ref, "diff": diff.to_json()},
        )

    async def _before(self, container_id: str, env: str) -> tuple[int | None, dict[str, Any]]:
        """What the environment runs now (number, document); an empty document if nothing."""
        current = await self.versions.control.environment_version(container_id, env)
        if current is None:
            return None, {"container": {}}
        return current, await self.versions.document(container_id, str(current))

    async def confirm_publish(self, request: Request, me: Principal, form: Form | None) -> Response:
        query = request.query_params
        return await self._confirm(request, me, "publish", query.get("env", "live"),
                                   query.get("version", ""))  # fmt: skip

    async def _confirm(
        self, request: Request, me: Principal, action: str, env_text: str, number_text: str
    ) -> Response:
        """The confirmation of a publish or rollback: what the environment runs now and
        the diff its traffic will see."""
        container_id = request.path_params["container"]
        await self.access(me, container_id, "publish")
        env = check_env_name(env_text)
        number = check_version_number(number_text)
        current, before = await self._before(container_id, env)
        after = await self.versions.document(container_id, str(number))
        return render(request, "confirm.html", {
            "container_id": container_id, "action": action, "env": env, "current": current,
            "target": number, "diff": diff_documents(before, after).to_json(),
        })  # fmt: skip

    async def publish(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        await self.access(me, container_id, "publish")
        form = _form(form)
        number = check_version_number(form.required("version"))
        env = check_env_name(form.required("env"))
        await self.versions.publish(container_id, number, env, me.actor)
        return _go(request, f"/containers/{container_id}", "published")

    async def confirm_rollback(
        self, request: Request, me: Principal, form: Form | None
    ) -> Response:
        query = request.query_params
        return await self._confirm(request, me, "rollback", query.get("env", "live"),
                                   query.get("to", ""))  # fmt: skip

    async def rollback(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        await self.access(me, container_id, "publish")
        form = _form(form)
        env = check_env_name(form.required("env"))
        number = check_version_number(form.required("to"))
        await self.versions.rollback(container_id, env, number, me.actor)
        return _go(request, f"/containers/{container_id}", "rolledback")

    async def remove_environment(
        self, request: Request, me: Principal, form: Form | None
    ) -> Response:
        """Delete a named environment (a finished preview); `live` only ever moves."""
        container_id = request.path_params["container"]
        await self.access(me, container_id, "publish")
        await self.versions.unpublish(container_id, _form(form).required("env"), me.actor)
        return _go(request, f"/containers/{container_id}", "removed")

    # --- audit and people -----------------------------------------------------------------

    async def audit(self, request: Request, me: Principal, form: Form | None) -> Response:
        query = request.query_params
        clients = me.visible(await self.store.list_clients())
        owned: dict[str, str] = {}
        for client in clients:
            for container_id in await self.store.client_containers(client.id):
                owned[container_id] = client.id
        fields = ("client", "container", "actor", "action", "since", "until")
        wanted = {k: query.get(k, "").strip() for k in fields}
        now = self.accounts.clock()
        bounds = []
        for name in ("since", "until"):
            try:
                bounds.append(parse_time(wanted[name], now) if wanted[name] else None)
            except ValueError as exc:
                raise FieldError(name, str(exc)) from None
        since, until = bounds
        entries = []
        for entry in await audit_entries(self.store, None, AUDIT_ROWS):
            client_id = owned.get(entry.container_id or "") or entry.detail.get("client_id")
            if not me.user.agency_admin and client_id not in {c.id for c in clients}:
                continue
            if wanted["client"] and client_id != wanted["client"]:
                continue
            if wanted["container"] and entry.container_id != wanted["container"]:
                continue
            if wanted["actor"] and wanted["actor"].lower() not in entry.actor.lower():
                continue
            if wanted["action"] and not entry.action.startswith(wanted["action"]):
                continue
            if (since is not None and entry.at_ms < since) or (
                until is not None and entry.at_ms > until
            ):
                continue
            detail = orjson.dumps(entry.detail, option=orjson.OPT_SORT_KEYS).decode()
            entries.append({"entry": entry, "client": client_id, "detail": detail})
        return render(
            request,
            "audit.html",
            {"entries": entries, "wanted": wanted, "clients": clients, "limit": AUDIT_ROWS},
        )

    async def people(self, request: Request, me: Principal, form: Form | None) -> Response:
        if not me.user.agency_admin:
            raise AccessDenied("only agency admins manage people")
        return render(
            request,
            "people.html",
            {"users": await self.store.list_users(), "link": "", "done": _done(request)},
        )

    async def create_user(self, request: Request, me: Principal, form: Form | None) -> Response:
        if not me.user.agency_admin:
            raise AccessDenied("only agency admins manage people")
        form = _form(form)
        try:
            await self.accounts.create_user(
                form.get("email"),
                form.get("name"),
                form.get("password"),
                agency_admin=form.checked("agency_admin"),
                actor=me.actor,
            )
        except NameTaken:
            raise FieldError("email", "a user with this email exists already") from None
        return _go(request, "/people", "user")

    async def create_reset(self, request: Request, me: Principal, form: Form | None) -> Response:
        if not me.user.agency_admin:
            raise AccessDenied("only agency admins manage people")
        token, expires = await self.accounts.create_reset(_form(form).required("email"), me.actor)
        link = (
            f"{request.url.scheme}://{request.url.netloc}{request.scope['root_path']}/reset/{token}"
        )
        return render(
            request,
            "people.html",
            {"users": await self.store.list_users(), "link": link, "expires": expires, "done": ""},
        )


def place_item(
    doc: dict[str, Any], section: str, original: str | None, item: dict[str, Any]
) -> int:
    """Put `item` into the document's `section` (tags, triggers, variables, templates) in
    place of the one with id `original`, or at the end when there is none (a new item);
    its index. NotFound when `original` names an item that is not there."""
    items: list[dict[str, Any]] = doc.setdefault(section, [])
    if not original:
        items.append(item)
        return len(items) - 1
    for index, existing in enumerate(items):
        if existing.get("id") == original:
            items[index] = item
            return index
    kind = section[:-1]
    raise NotFound(f"container {doc['container']['id']!r} has no {kind} {original!r}")


def _document(form: Form) -> dict[str, Any]:
    text = form.required("document")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FieldError("document", f"is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise FieldError("document", "must be a JSON object (a container document)")
    return doc


def _blank(form: Form) -> dict[str, Any]:
    """A new container document: empty, or a starter's triggers and tags, under the id,
    name and domain given."""
    container = {
        "id": check_container_id(form.required("id")),
        "name": check_name(form.required("name")),
        "domain": form.required("domain"),
    }
    starter = form.get("starter", "blank")
    if starter == "blank":
        return {"container": container, "variables": [], "triggers": [], "tags": []}
    if starter not in STARTERS:
        raise FieldError("starter", f"must be blank or one of {', '.join(STARTERS)}")
    doc: dict[str, Any] = orjson.loads((_STARTERS / f"{starter}.json").read_bytes())
    doc["container"] = {**doc["container"], **container}
    return doc


def _ref(text: str, field: str) -> str:
    """workspace, a version number or an environment name."""
    text = text.strip()
    if text == "workspace" or (text.isascii() and text.isdigit()):
        return text
    try:
        return check_env_name(text)
    except PublishError:
        raise FieldError(field, "give workspace, a version number or an environment name") from None
