"""Operating delivery from the admin UI: the firing history (with CSV export) and the
dead letters with replay and release, over the same actions as `tagwire history` and
`tagwire outbox` (`admin_ui.history`, `admin_ui.outbox_ops`).

Both pages work on one container at a time, which the signed-in user must be able to see
(agency admins may also look at all containers at once); replaying and releasing rows
needs the publisher role on the container's client, like publishing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator
from typing import Any, Protocol

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from admin_ui.audit import Actor
from admin_ui.errors import FieldError, NotFound
from admin_ui.history import HISTORY_FIELDS, history, history_record
from admin_ui.outbox_ops import OutboxOps
from admin_ui.people import Principal
from admin_ui.times import parse_time
from admin_ui.web.forms import Form
from admin_ui.web.pages import Pages, PagesStore
from admin_ui.web.render import render
from config.diff import masked
from config.storage import STATES, HistoryStore, OutboxFilter, OutboxOpsStore

__all__ = ["Operations", "shown_body", "shown_headers"]

PAGE_ROWS = 50
MAX_PAGE = 20_000  # 1M rows at 50 a page
CSV_LIMIT = 100_000  # rows in one export; narrow the filter for more
DEAD_SCAN = 5_000  # newest dead attempts read to group by reason
_OUTCOMES = ("sent", "failed", "dead", "ran", *STATES)


class OperationsStore(PagesStore, HistoryStore, OutboxOpsStore, Protocol):
    """What the history and dead-letter pages read and change."""


def _text(query: QueryParams, name: str) -> str | None:
    value = query.get(name, "").strip()
    return value or None


class Operations:
    def __init__(self, store: OperationsStore, pages: Pages) -> None:
        self.store = store
        self.pages = pages
        self.ops = OutboxOps(store, pages.accounts.clock)

    async def _containers(self, me: Principal) -> list[str]:
        """The containers `me` may see, sorted."""
        if me.user.agency_admin:
            return sorted(await self.store.list_containers())
        found: list[str] = []
        for client in me.visible(await self.store.list_clients()):
            found.extend(await self.store.client_containers(client.id))
        return sorted(found)

    async def _filter(self, me: Principal, query: QueryParams) -> tuple[OutboxFilter, list[str]]:
        """The history filter of a query; a container is required unless `me` is an agency
        admin (who may leave it empty for all). A client narrows the containers to its own."""
        client = _text(query, "client")
        container = _text(query, "container")
        if client is not None:
            await self.pages.require_client(me, client, "view")
            containers = sorted(await self.store.client_containers(client))
            if container is not None and container not in containers:
                raise FieldError("container", f"{container!r} is not a container of {client!r}")
            if container is None:
                if not containers:
                    raise FieldError("client", f"client {client!r} has no container yet")
                container = containers[0]
        else:
            containers = await self._containers(me)
        if container is None and not me.user.agency_admin:
            container = containers[0] if containers else None
            if container is None:
                raise FieldError("container", "you can see no container yet")
        if container is not None:
            await self.pages.access(me, container, "view")
        now = self.pages.accounts.clock()
        bounds = []
        for name in ("since", "until"):
            text = _text(query, name)
            try:
                bounds.append(parse_time(text, now) if text else None)
            except ValueError as exc:
                raise FieldError(name, str(exc)) from None
        state = _text(query, "state")
        if state is not None and state not in STATES:
            raise FieldError("state", f"must be one of {', '.join(STATES)}")
        found = OutboxFilter(
            container_id=container,
            tag_id=_text(query, "tag"),
            platform=_text(query, "platform"),
            event_name=_text(query, "event"),
            lead_id=_text(query, "lead_id"),
            event_id=_text(query, "event_id"),
            states=(state,) if state else (),
            since_ms=bounds[0],
            until_ms=bounds[1],
        )
        return found, containers

    async def history(self, request: Request, me: Principal, form: Form | None) -> Response:
        query = request.query_params
        filter, containers = await self._filter(me, query)
        status = _text(query, "status")
        if status is not None and not (status.isdigit() and 100 <= int(status) <= 599):
            raise FieldError("status", "must be an HTTP status from 100 to 599")
        outcome = _text(query, "outcome")
        if outcome is not None and outcome not in _OUTCOMES:
            raise FieldError("outcome", f"must be one of {', '.join(dict.fromkeys(_OUTCOMES))}")
        code = int(status) if status else None
        if query.get("format") == "csv":
            entries = await history(self.store, filter, CSV_LIMIT, 0, code, outcome)
            return StreamingResponse(
                _csv([history_record(e) for e in entries]),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": 'attachment; filename="tagwire-history.csv"'},
            )
        page_text = query.get("page", "1")
        if not page_text.isdigit() or not 1 <= int(page_text) <= MAX_PAGE:
            raise FieldError("page", f"must be a page number from 1 to {MAX_PAGE}")
        page = int(page_text)
        entries = await history(
            self.store, filter, PAGE_ROWS + 1, (page - 1) * PAGE_ROWS, code, outcome
        )
        more = len(entries) > PAGE_ROWS
        kept = {k: v for k, v in query.items() if k != "page" and v}
        return render(request, "history.html", {
            "clients": me.visible(await self.store.list_clients()),
            "client": query.get("client", ""),
            "rows": [history_record(e) for e in entries[:PAGE_ROWS]], "page": page, "more": more,
            "query": kept, "containers": containers, "states": STATES,
            "container": filter.container_id or "",
        })  # fmt: skip

    async def dead_letters(self, request: Request, me: Principal, form: Form | None) -> Response:
        filter, containers = await self._filter(me, request.query_params)
        status = await self.ops.status(filter)
        dead_rows = dataclasses.replace(filter, states=("dead",))
        dead = await history(self.store, dead_rows, DEAD_SCAN, 0, None, "dead")
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for entry in dead:
            key = (entry.container_id, entry.tag_id, entry.response[:160])
            group = groups.setdefault(key, {"container": key[0], "tag": key[1],
                                            "reason": key[2], "rows": 0, "last": 0})  # fmt: skip
            group["rows"] += 1
            group["last"] = max(group["last"], entry.at_ms)
        may_act = filter.container_id is not None and await self._may_operate(
            me, filter.container_id
        )
        return render(request, "dead_letters.html", {
            "clients": me.visible(await self.store.list_clients()),
            "client": request.query_params.get("client", ""),
            "status": status, "groups": sorted(groups.values(), key=lambda g: -g["rows"]),
            "containers": containers, "container": filter.container_id or "",
            "may_act": may_act, "scanned": DEAD_SCAN, "done": _done(request),
        })  # fmt: skip

    async def row(self, request: Request, me: Principal, form: Form | None) -> Response:
        """One outbox row as it is sent, secrets masked, with every answer it got."""
        text = request.path_params["row"]
        number = int(text) if text.isdigit() and len(text) < 19 else None
        found = None if number is None else await self.store.outbox_row(number)
        if found is None:
            raise NotFound(f"there is no outbox row {text!r} you can see")
        await self.pages.access(me, found.container_id, "view")
        attempts = [history_record(e) for e in await self.store.row_history(found.id)]
        return render(request, "outbox_row.html", {
            "row": found, "headers": shown_headers(found.headers), "body": shown_body(found.body),
            "attempts": attempts,
        })  # fmt: skip

    async def _may_operate(self, me: Principal, container_id: str) -> bool:
        client = await self.store.container_client(container_id)
        return me.user.agency_admin if client is None else me.may("publish", client)

    async def replay(self, request: Request, me: Principal, form: Form | None) -> Response:
        return await self._act(request, me, form, "replay")

    async def release(self, request: Request, me: Principal, form: Form | None) -> Response:
        return await self._act(request, me, form, "release")

    async def _act(self, request: Request, me: Principal, form: Form | None, what: str) -> Response:
        assert form is not None
        container = form.required("container")
        await self.pages.access(me, container, "publish")
        filter = OutboxFilter(container_id=container, tag_id=form.get("tag").strip() or None)
        actor = Actor(me.actor, "admin UI")
        if what == "replay":
            count = await self.ops.replay(filter, False, actor)  # dead rows unless told
        else:
            count = await self.ops.release(filter, False, actor)
        root = request.scope["root_path"]
        return RedirectResponse(
            f"{root}/dead-letters?container={container}&done={what}&rows={count}", 303
        )


_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|auth|signature", re.I)


def shown_headers(raw: bytes) -> dict[str, str]:
    """A row's headers, values of credential-looking ones masked."""
    try:
        headers = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(headers, dict):
        return {}
    return {str(k): "***" if _SECRET_HEADER.search(str(k)) else str(v) for k, v in headers.items()}


def shown_body(raw: bytes) -> str:
    """A row's body: JSON pretty-printed with secret-looking keys masked, else the text."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
    return orjson.dumps(masked(body), option=orjson.OPT_INDENT_2).decode()


def _done(request: Request) -> str:
    what = request.query_params.get("done")
    rows = request.query_params.get("rows", "")
    if what not in ("replay", "release") or not rows.isdigit():
        return ""
    verb = "queued again for delivery" if what == "replay" else "released for delivery"
    return f"{int(rows)} row(s) {verb}."


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A spreadsheet runs a cell that starts like a formula: such text gets a leading '."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def _csv(records: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS)
    writer.writeheader()
    for index, record in enumerate(records):
        writer.writerow({k: _cell(v) for k, v in record.items()})
        if index % 1000 == 999:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
