"""Preview and debug in the admin UI: start, revoke and refresh a container's preview
sessions, give the preview link and its QR code, and watch the session's hits live.

The node's data plane writes each preview hit's trace to the shared store (the format is
the module docstring of container/preview/trace.py; this plane only reads the JSON).
The live view polls the store and streams new traces as Server-Sent Events, each event
id a trace id, so a browser that reconnects, to this node after a restart or to another
one, resumes where it stopped. A trace's outgoing requests are joined with the firing
history by the hit's event id, to show what each platform answered.

Starting, revoking and refreshing need the editor role on the container's client;
watching needs the viewer role. A session of a client the user cannot see is a 404.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import orjson
import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from admin_ui.audit import Actor
from admin_ui.errors import FieldError, NotFound
from admin_ui.history import history_record
from admin_ui.people import Principal
from admin_ui.previews import DEFAULT_HOURS, MAX_HOURS, MAX_TEST_CODE, PreviewActions
from admin_ui.web.forms import Form
from admin_ui.web.operations import OperationsStore
from admin_ui.web.pages import Pages
from admin_ui.web.render import render
from config.preview_tokens import PREVIEW_KEY, PreviewTokens
from config.storage import (
    PREVIEW_MODES,
    Client,
    HistoryEntry,
    OutboxFilter,
    PreviewSession,
    PreviewStore,
    StorageError,
    TraceEntry,
)

__all__ = ["KEEPALIVE_S", "POLL_S", "STREAM_S", "PreviewPages", "PreviewPagesStore"]

POLL_S = 0.5  # how often the live stream reads the store for new traces
KEEPALIVE_S = 15.0  # a comment on a quiet stream, so proxies keep it open
STREAM_S = 300.0  # a stream then closes and the browser reconnects through sign-in again
RETRY_MS = 1000  # how soon a browser reconnects after the stream drops
BATCH = 50  # traces sent per poll, oldest first; a larger burst goes on at once
SHOWN = 100  # traces the live view shows when it opens
PENDING_MS = 120_000  # how long a request not in the history yet is waited for
HISTORY_ROWS = 200
VIA = "admin UI"
MODES = {
    "dry_run": "Dry run: every request is built and shown here, nothing is sent",
    "test": "Test mode: sent with each platform's test event code, validate-only or debug "
    "endpoint",
    "live": "Live: sent for real, marked as this preview's in the history",
}
OUTCOMES = {"fired": "fired", "blocked": "blocked", "failed": "failed",
            "not_fired": "not fired", "refused": "refused"}  # fmt: skip
DONE = {
    "started": "Preview started: open the link (or scan the code) on the device to test with.",
    "revoked": "Preview revoked: its link and cookies run the live version again within "
    "seconds on every node.",
    "refreshed": "The preview now runs the current workspace.",
}
assert tuple(MODES) == PREVIEW_MODES
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TAG_KINDS = {"fired": "fired", "not_fired": "not_fired", "failed": "failed"}
_WAITING_STATES = ("pending", "inflight")


class PreviewPagesStore(OperationsStore, PreviewStore, Protocol):
    """The pages' roles plus the preview sessions and their traces."""


def _may(me: Principal, client: Client | None, action: str) -> bool:
    return me.user.agency_admin if client is None else me.may(action, client.id)


def _clock_time(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).strftime("%H:%M:%S")


def _json(value: Any, pretty: bool = False) -> str:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(value, option=option, default=str).decode()


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list from a trace body, skipping anything else."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _body(entry: TraceEntry) -> dict[str, Any]:
    try:
        body = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def outcome_kinds(body: dict[str, Any]) -> list[str]:
    """The outcomes a hit had, as the live view's filter names them."""
    kinds = {"refused"} if _dicts(body.get("errors")) else set()
    for tag in _dicts(body.get("tags")):
        outcome = str(tag.get("outcome", ""))
        kind = "blocked" if outcome.startswith("blocked") else _TAG_KINDS.get(outcome)
        if kind:
            kinds.add(kind)
    return [k for k in OUTCOMES if k in kinds]


def _tone(kinds: list[str]) -> str:
    """The colour of a line: its worst outcome."""
    for tone, worst in (("bad", ("failed", "refused")), ("warn", ("blocked",)), ("ok", ("fired",))):
        if any(kind in kinds for kind in worst):
            return tone
    return "quiet"


def trace_line(entry: TraceEntry) -> dict[str, Any]:
    """One line of the live view: time, event, summary, and what the filters match."""
    body = _body(entry)
    kinds = outcome_kinds(body)
    return {
        "id": entry.id, "session": entry.session_id, "time": _clock_time(entry.at_ms),
        "event": entry.event_name or str(body.get("event") or "—"),
        "summary": str(body.get("summary") or entry.outcome), "kinds": kinds, "tone": _tone(kinds),
    }  # fmt: skip


def _trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    fired = trigger.get("fired") is True
    return {
        "id": str(trigger.get("id", "")), "name": str(trigger.get("name") or ""),
        "fired": fired, "reason": str(trigger.get("reason") or ""),
        "path": trigger.get("path"), "var": trigger.get("var"), "op": trigger.get("op"),
        "expected": _json(trigger.get("expected")), "actual": _json(trigger.get("actual")),
    }  # fmt: skip


def _headers(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def trace_view(entry: TraceEntry, body: dict[str, Any]) -> dict[str, Any]:
    """Everything a trace says, shaped for the page: values as JSON text, lists of
    objects only, every key present."""
    asked = body.get("request")
    request: dict[str, Any] = asked if isinstance(asked, dict) else {}
    tags = []
    for tag in _dicts(body.get("tags")):
        requests = [{"method": str(r.get("method", "")), "url": str(r.get("url", "")),
                     "headers": _headers(r.get("headers")), "body": _json(r.get("body"), True),
                     "answer": None} for r in _dicts(tag.get("requests"))]  # fmt: skip
        outcome = str(tag.get("outcome", ""))
        tags.append({
            "id": str(tag.get("id", "")), "template": str(tag.get("template", "")),
            "outcome": outcome, "outcome_words": outcome.replace("_", " "),
            "consent": str(tag.get("consent") or ""), "error": tag.get("error"),
            "logs": [str(line) for line in tag.get("logs") or []],
            "pixels": [_json(p, True) for p in tag.get("pixels") or []], "requests": requests,
        })  # fmt: skip
    return {
        "id": entry.id, "session": entry.session_id, "at_ms": entry.at_ms,
        "time": _clock_time(entry.at_ms), "event": entry.event_name or "—",
        "event_id": str(body.get("event_id") or ""), "trace_id": str(body.get("trace_id") or ""),
        "summary": str(body.get("summary") or entry.outcome),
        "mode": str(body.get("mode") or ""), "source": str(body.get("source") or ""),
        "revision": body.get("revision"), "delivery": str(body.get("delivery") or ""),
        "request": {"origin": str(request.get("origin") or ""),
                    "user_agent": str(request.get("user_agent") or ""),
                    "client_ip": str(request.get("client_ip") or ""),
                    "headers": _headers(request.get("headers")),
                    "cookies": [str(c) for c in request.get("cookies") or []]},
        "errors": _dicts(body.get("errors")),
        "hit": _json(body["hit"], True) if "hit" in body else "",
        "guards": _dicts(body.get("guards")),
        "variables": [{"id": str(v.get("id", "")), "value": _json(v.get("value"))}
                      for v in _dicts(body.get("variables"))],
        "triggers": [_trigger(t) for t in _dicts(body.get("triggers"))],
        "tags": tags, "pending": False,
    }  # fmt: skip


def _shown(line: dict[str, Any], wanted: dict[str, str]) -> bool:
    """Whether a line passes the filters (the page's script applies the same test)."""
    event, outcome = wanted["event"].lower(), wanted["outcome"]
    return (not event or event in line["event"].lower()) and (
        not outcome or outcome in line["kinds"]
    )


def _origin(text: str, field: str) -> str:
    """An http(s) origin (scheme://host[:port]) from what the user typed."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise FieldError(field, "give an origin such as https://t.client.com")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise FieldError(field, "give an origin such as https://t.client.com")
    return f"{parts.scheme}://{parts.netloc}"


def _site(text: str) -> str:
    """The page the link sends the browser to: an http(s) URL, or empty."""
    text = text.strip()
    parts = urlsplit(text)
    if text and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise FieldError("site", "give the site's address, such as https://www.client.com/")
    return text


def _after(request: Request) -> int:
    """Where a stream starts: after the Last-Event-ID a reconnecting browser sends, else
    after the `after` query parameter the page gives (the newest trace it shows)."""
    for text in (request.headers.get("last-event-id", ""), request.query_params.get("after", "")):
        text = text.strip()
        if text.isascii() and text.isdigit() and len(text) < 19:
            return int(text)
    return 0


def _sse(event_id: int, html: str) -> str:
    data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
    return f"id: {event_id}\n{data}\n"


class PreviewPages:
    def __init__(self, store: PreviewPagesStore, pages: Pages) -> None:
        self.store = store
        self.pages = pages

    def _now(self) -> int:
        return self.pages.accounts.clock()

    def _actions(self) -> PreviewActions:
        return PreviewActions(self.store, self.pages.accounts.clock)

    async def _session(
        self, me: Principal, request: Request, action: str
    ) -> tuple[PreviewSession, Client | None]:
        """The session of the path, when `me` may do `action` on its container; 404 for an
        unknown one and for one of a client `me` cannot see alike."""
        text = request.path_params["session"]
        found = await self.store.get_preview(text) if _SESSION_ID.fullmatch(text) else None
        missing = NotFound(f"there is no preview {text!r} you can see")
        if found is None:
            raise missing
        try:
            client = await self.pages.access(me, found.container_id, action)
        except NotFound:
            raise missing from None
        return found, client

    # --- the container's sessions -------------------------------------------------------

    async def index(self, request: Request, me: Principal, form: Form | None) -> Response:
        return await self._index(request, me, {}, {})

    async def _index(
        self,
        request: Request,
        me: Principal,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        container_id = request.path_params["container"]
        client = await self.pages.access(me, container_id, "view")
        now = self._now()
        sessions = await self.store.list_previews(container_id, None)
        sessions.sort(key=lambda s: not s.active(now))  # active first, each newest first
        listing = await self.pages.versions.listing(container_id, include_archived=False)
        shown = {"source": "workspace", "mode": "dry_run", "test_code": "",
                 "hours": str(DEFAULT_HOURS), **values}  # fmt: skip
        return render(request, "previews.html", {
            "container_id": container_id, "client": client,
            "sessions": [(s, _state(s, now)) for s in sessions],
            "versions": listing.versions, "modes": MODES, "may_edit": _may(me, client, "edit"),
            "values": shown, "errors": errors, "max_hours": MAX_HOURS,
            "max_code": MAX_TEST_CODE,
        }, status)  # fmt: skip

    async def start(self, request: Request, me: Principal, form: Form | None) -> Response:
        assert form is not None
        container_id = request.path_params["container"]
        await self.pages.access(me, container_id, "edit")
        values = {k: form.get(k) for k in ("source", "mode", "test_code", "hours")}
        try:
            session = await self._actions().start(
                container_id, values["source"], values["mode"], values["test_code"],
                Actor(me.actor, VIA), values["hours"],
            )  # fmt: skip
        except FieldError as exc:
            return await self._index(request, me, values, {exc.field: exc.reason}, 400)
        return self._go(request, session.id, "started")

    def _go(self, request: Request, session_id: str, done: str) -> Response:
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/previews/{session_id}?done={done}", 303)

    # --- one session ----------------------------------------------------------------------

    async def revoke(self, request: Request, me: Principal, form: Form | None) -> Response:
        session, _ = await self._session(me, request, "edit")
        await self._actions().revoke(session.id, Actor(me.actor, VIA))
        return self._go(request, session.id, "revoked")

    async def refresh(self, request: Request, me: Principal, form: Form | None) -> Response:
        session, _ = await self._session(me, request, "edit")
        await self._actions().refresh(session.id, Actor(me.actor, VIA))
        return self._go(request, session.id, "refreshed")

    async def live(self, request: Request, me: Principal, form: Form | None) -> Response:
        """The live view: the link and its QR code, the session's controls, and its hits."""
        session, client = await self._session(me, request, "view")
        query = request.query_params
        state = _state(session, self._now())
        errors: dict[str, str] = {}
        link = await self._link(request, session, errors) if state == "active" else {}
        entries = await self.store.traces(session.id, 0, SHOWN)
        wanted = {"event": query.get("event", "").strip(), "outcome": query.get("outcome", "")}
        lines = [{**line, "hidden": not _shown(line, wanted)} for line in map(trace_line, entries)]
        return render(request, "preview.html", {
            "session": session, "client": client, "state": state,
            "mode": MODES.get(session.mode, session.mode), "link": link, "errors": errors,
            "may_edit": _may(me, client, "edit"), "lines": lines,
            "after": entries[0].id if entries else 0, "outcomes": OUTCOMES, "wanted": wanted,
            "done": DONE.get(query.get("done", ""), ""),
        })  # fmt: skip

    async def _link(
        self, request: Request, session: PreviewSession, errors: dict[str, str]
    ) -> dict[str, str]:
        """The preview link of an active session, its QR code (an SVG `data:` URI, which
        the CSP allows as an image) and the tracking host and site it was made with."""
        tracking, site = await self._link_parts(request, session, errors)
        key = await self.store.node_key(PREVIEW_KEY)
        token = PreviewTokens(key).make(session.id, session.expires_at_ms)
        params = {"t": token, "to": site} if site else {"t": token}
        url = f"{tracking}/preview/start?{urlencode(params)}"
        qr = segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#111827")
        return {"url": url, "qr": qr, "tracking": tracking, "site": site}

    async def _link_parts(
        self, request: Request, session: PreviewSession, errors: dict[str, str]
    ) -> tuple[str, str]:
        """The tracking origin and site of the link: as asked in the query, else this
        request's origin and the first origin the container allows."""
        document = orjson.loads(session.document)
        head = document.get("container") if isinstance(document, dict) else None
        allowed = head.get("allowed_origins") if isinstance(head, dict) else None
        parts = {
            "tracking": f"{request.url.scheme}://{request.url.netloc}",
            "site": str(allowed[0]) if isinstance(allowed, list) and allowed else "",
        }
        for field, check in (("tracking", _origin), ("site", lambda t, f: _site(t))):
            asked = request.query_params.get(field, "").strip()
            if asked:
                try:
                    parts[field] = check(asked, field)
                except FieldError as exc:
                    errors[field] = exc.reason
        return parts["tracking"], parts["site"]

    # --- the stream and the traces --------------------------------------------------------

    async def stream(self, request: Request, me: Principal, form: Form | None) -> Response:
        session, _ = await self._session(me, request, "view")
        return StreamingResponse(
            self._events(request, session.id, _after(request)),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def _events(self, request: Request, session_id: str, after: int) -> AsyncIterator[str]:
        """New traces, oldest of each batch first, until the session ends (`ended`), the
        browser goes away, or STREAM_S passes (the browser then reconnects through the
        gate). Under uvicorn (ASGI spec 2.3) Starlette's own disconnect listener cancels
        this generator as soon as the browser leaves; the check in the loop covers servers
        of spec 2.4, which have no such listener."""
        store = self.store
        loop = asyncio.get_running_loop()
        started = quiet_since = loop.time()
        yield f"retry: {RETRY_MS}\n\n"
        while not await request.is_disconnected():
            try:
                entries = await store.traces(session_id, after, BATCH, oldest_first=True)
                current = await store.get_preview(session_id)
            except StorageError:
                return  # the browser reconnects and resumes from its last event id
            for entry in entries:
                yield _sse(entry.id, _fragment(request, "_trace.html", {"line": trace_line(entry)}))
                after = entry.id
            if len(entries) == BATCH:
                continue  # a full batch: more may be waiting, read on before anything else
            now_ms = self._now()
            if current is None or not current.active(now_ms):
                state = "gone" if current is None else _state(current, now_ms)
                yield f"event: ended\ndata: {state}\n\n"
                return
            now = loop.time()
            if entries:
                quiet_since = now
            elif now - quiet_since >= KEEPALIVE_S:
                yield ": keepalive\n\n"
                quiet_since = now
            if now - started >= STREAM_S:
                return
            await asyncio.sleep(POLL_S)

    async def trace(self, request: Request, me: Principal, form: Form | None) -> Response:
        """One hit in full: a fragment for the live view's script, a page otherwise."""
        session, client = await self._session(me, request, "view")
        text = request.path_params["trace"]
        entry = await self._trace(session.id, text)
        view = trace_view(entry, _body(entry))
        await self._answers(session, view)
        context = {"session": session, "client": client, "trace": view}
        if request.headers.get("x-fragment") == "1":
            return render(request, "_trace_detail.html", context)
        return render(request, "trace.html", context)

    async def _trace(self, session_id: str, text: str) -> TraceEntry:
        number = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
        entry = None if number is None else await self.store.trace(session_id, number)
        if entry is None:
            raise NotFound(f"preview {session_id} has no hit {text!r}")
        return entry

    async def _answers(self, session: PreviewSession, view: dict[str, Any]) -> None:
        """Join the trace's requests with the history rows of its event: each gets the
        platform's answers, or why it has none; `pending` while one is still awaited."""
        dry = view["mode"] == "dry_run"
        rows = [] if dry else await self._rows(session.container_id, view["event_id"],
                                               view["at_ms"])  # fmt: skip
        young = self._now() - view["at_ms"] < PENDING_MS
        for tag in view["tags"]:
            for sent in tag["requests"]:
                answer = _note("not sent: dry run") if dry else _answer(
                    _take(rows, tag["id"], sent["url"]), young)  # fmt: skip
                sent["answer"] = answer
                view["pending"] = view["pending"] or answer["pending"]

    async def _rows(self, container_id: str, event_id: str, at_ms: int) -> list[dict[str, Any]]:
        """The history rows of one hit, in the order they were queued, with their URL."""
        if not event_id:
            return []
        wanted = OutboxFilter(container_id=container_id, event_id=event_id, since_ms=at_ms - 60_000)
        by_row: dict[int, list[HistoryEntry]] = {}
        for entry in await self.store.history(wanted, HISTORY_ROWS, 0):
            by_row.setdefault(entry.outbox_id, []).append(entry)
        rows = []
        for outbox_id in sorted(by_row):
            item = await self.store.outbox_row(outbox_id)
            entries = by_row[outbox_id]
            rows.append({
                "id": outbox_id, "tag": entries[0].tag_id, "state": entries[0].state,
                "url": item.url if item is not None else "",
                "attempts": [history_record(e) for e in entries if e.attempt > 0],
            })  # fmt: skip
        return rows


def _take(rows: list[dict[str, Any]], tag_id: str, url: str) -> dict[str, Any] | None:
    """The first row left of the tag with this URL (else of the tag), removed from `rows`."""
    for exact in (True, False):
        for index, row in enumerate(rows):
            if row["tag"] == tag_id and (row["url"] == url or not exact):
                return rows.pop(index)
    return None


def _note(
    note: str, pending: bool = False, row: int | None = None, attempts: Any = ()
) -> dict[str, Any]:
    return {"note": note, "pending": pending, "row": row, "attempts": list(attempts)}


def _answer(row: dict[str, Any] | None, young: bool) -> dict[str, Any]:
    """What became of one request: the platform's answers, or why there are none yet."""
    if row is None:
        if young:
            return _note("waiting for the sender", pending=True)
        return _note("not in the history (not queued, or purged since)")
    if row["attempts"]:
        return _note("", row=row["id"], attempts=row["attempts"])
    if row["state"] == "held":
        return _note("held by the spike guard: release it on the dead letters page", row=row["id"])
    waiting = row["state"] in _WAITING_STATES
    note = "waiting for the sender" if waiting else f"not sent ({row['state']})"
    return _note(note, pending=waiting, row=row["id"])


def _state(session: PreviewSession, now: int) -> str:
    if session.revoked_at_ms is not None:
        return "revoked"
    return "active" if session.active(now) else "expired"


def _fragment(request: Request, template: str, context: dict[str, Any]) -> str:
    """A template rendered as the pages are (autoescaped), as text for the stream."""
    return bytes(render(request, template, context).body).decode()
