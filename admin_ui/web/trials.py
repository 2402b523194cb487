"""Test fire from the admin UI: pick a tag of the workspace, an event and sample data,
send it through the node's real pipeline with the platforms' test modes, and show what
was sent and what each platform answered.

The run itself belongs to the data plane (a `tags.trial.RunTrial` the wiring hands
over; a control plane running alone has none and says so). This page then reads the
requests and their answers from the firing history, where the sender records them like
any row, waiting a few seconds for the first answer of each.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from admin_ui.audit import Actor, audit
from admin_ui.errors import FieldError, NotConfigured, NotFound
from admin_ui.history import history_record
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.operations import OperationsStore, shown_body, shown_headers
from admin_ui.web.pages import Pages
from admin_ui.web.recent_hits import recent_hits
from admin_ui.web.render import render
from config.storage import HistoryEntry, OutboxFilter, PreviewStore
from tags.trial import RunTrial, Trial, TrialRefused

__all__ = ["TrialPage", "TrialStore", "sample_hit"]

SETTLE_S = 10.0  # how long the page waits for the platforms' first answers
POLL_S = 0.2
MAX_SAMPLE_BYTES = 64 * 1024
_GRANTED = "granted"
# What each shipped template does with the test code, shown beside the form.
TEST_MODES = {
    "meta": "sent with test_event_code: the Test events tab of Events Manager",
    "tiktok": "sent with test_event_code: the Test events tab of Events Manager",
    "ga4": "sent to the Measurement Protocol's debug endpoint (validated, not recorded)",
    "google_ads": "uploaded with validateOnly: checked, not recorded",
    "linkedin": "not sent: the Conversions API has no test mode",
    "webhook": "sent to its URL with test_event_code in the body: the receiver must drop it",
}


def sample_hit(event: str) -> dict[str, Any]:
    """A consenting visitor's hit for `event`, with a hashed test address, a click id and
    the data a conversion tag reads; the user edits it before firing."""
    email = hashlib.sha256(b"test@example.com").hexdigest()
    return {
        "event": event,
        "page": {"url": "https://www.example.com/thanks", "title": "Thank you"},
        "consent": {name: _GRANTED for name in (
            "ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")},
        "user": {"em": email},
        "click": {"gclid": "TeSt-fire-gclid_0123456789"},
        "data": {"value": 50, "currency": "EUR", "lead_id": "TEST-LEAD-1"},
    }  # fmt: skip


def _event_of(doc: dict[str, Any], tag: dict[str, Any]) -> str:
    """The first event a tag's firing triggers name, for the form's default."""
    triggers = {t.get("id"): t for t in doc.get("triggers", []) if isinstance(t, dict)}
    for trigger_id in tag.get("firing_triggers", []):
        events = triggers.get(trigger_id, {}).get("events") or []
        if events:
            return str(events[0])
    return "lead"


class TrialStore(OperationsStore, PreviewStore, Protocol):
    """What the page reads: the history of the requests it queued, and preview hits to
    offer as samples."""


class TrialPage:
    def __init__(self, store: TrialStore, pages: Pages, test_fire: RunTrial | None) -> None:
        self.store = store
        self.pages = pages
        self.test_fire = test_fire

    async def _tag(
        self, me: Principal, container_id: str, tag_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The workspace and its tag, when `me` may edit the container."""
        doc = await self.pages.workspace_document(me, container_id, "edit")
        for tag in doc.get("tags", []):
            if isinstance(tag, dict) and tag.get("id") == tag_id:
                return doc, tag
        raise NotFound(f"container {container_id!r} has no tag {tag_id!r} in its workspace")

    async def form(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        doc, tag = await self._tag(me, container_id, request.path_params["tag"])
        recent = await recent_hits(self.store, container_id)
        picked = request.query_params.get("sample")
        sample = next((r.hit for r in recent if r.key == picked), None)
        if sample is None:
            sample = sample_hit(_event_of(doc, tag))
        else:  # the test fire gives the hit an event id of its own
            sample = {k: v for k, v in sample.items() if k not in ("event_id", "ts")}
        return self._render(request, container_id, tag, _pretty(sample), "TEST12345",
                            {"recent": recent, "picked": picked})  # fmt: skip

    async def fire(self, request: Request, me: Principal, form: Form | None) -> Response:
        assert form is not None
        container_id = request.path_params["container"]
        doc, tag = await self._tag(me, container_id, request.path_params["tag"])
        sample_text, code = form.get("sample"), form.get("test_code")
        if self.test_fire is None:
            raise NotConfigured(
                "test fire runs on a node that serves /collect (tagwire serve): this admin "
                "process has no pipeline or sender"
            )
        started = self.pages.accounts.clock()
        try:
            wire = _sample(sample_text, form.get("event"))
            trial = await self.test_fire(doc, tag["id"], wire, code)
        except (FieldError, TrialRefused) as exc:
            return self._render(request, container_id, tag, sample_text, code,
                                {"errors": {exc.field: exc.reason}}, 400)  # fmt: skip
        audit(Actor(me.actor, "admin UI"), "test fire",
              {"container": container_id, "tag": tag["id"], "event_id": trial.event_id,
               "requests": trial.queued})  # fmt: skip
        await self.store.add_audit(
            me.actor, "test.fire", container_id,
            {"via": "admin UI", "tag": tag["id"], "event_id": trial.event_id,
             "requests": trial.queued}, started,
        )  # fmt: skip
        rows = await self._answers(container_id, tag["id"], trial, started - 60_000)
        answered = sum(1 for r in rows if any(a["attempt"] for a in r["attempts"]))
        return self._render(request, container_id, tag, sample_text, code,
                            {"trial": trial, "rows": rows, "unanswered": trial.queued - answered,
                             "pixels": [_pretty(p) for p in trial.pixels]})  # fmt: skip

    async def _answers(
        self, container_id: str, tag_id: str, trial: Trial, since_ms: int
    ) -> list[dict[str, Any]]:
        """Each request the test queued, as sent (secrets masked), with its answers; waits
        up to SETTLE_S for every one to be attempted once."""
        if not trial.queued:
            return []
        wanted = OutboxFilter(
            container_id=container_id, tag_id=tag_id, event_id=trial.event_id, since_ms=since_ms
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        while True:
            entries = await self.store.history(wanted, 100, 0)
            if _settled(entries, trial.queued) or loop.time() >= deadline:
                break
            await asyncio.sleep(POLL_S)
        by_row: dict[int, list[HistoryEntry]] = {}
        for entry in entries:
            by_row.setdefault(entry.outbox_id, []).append(entry)
        shown = []
        for outbox_id in sorted(by_row):
            row = await self.store.outbox_row(outbox_id)
            if row is None:
                continue
            shown.append({
                "row": row, "headers": shown_headers(row.headers), "body": shown_body(row.body),
                "attempts": [history_record(e) for e in by_row[outbox_id]],
            })  # fmt: skip
        return shown

    def _render(
        self,
        request: Request,
        container_id: str,
        tag: dict[str, Any],
        sample: str,
        code: str,
        context: dict[str, Any],
        status: int = 200,
    ) -> Response:
        return render(request, "test_fire.html", {
            "container_id": container_id, "tag": tag, "sample": sample, "test_code": code,
            "mode": TEST_MODES.get(str(tag.get("template")), "the template decides: check that "
                                   "it reads server.test_event_code"),
            "available": self.test_fire is not None, "settle_s": SETTLE_S,
            "trial": None, "rows": [], "pixels": [], "unanswered": 0, "errors": {},
            "recent": [], "picked": None, **context,
        }, status)  # fmt: skip


def _settled(entries: list[HistoryEntry], queued: int) -> bool:
    """Every queued row is in the history with at least one attempt."""
    attempted = {e.outbox_id for e in entries if e.attempt > 0}
    return len(attempted) >= queued


def _sample(text: str, event: str) -> dict[str, Any]:
    """The form's sample hit, with the event field's name when one is given."""
    if len(text.encode()) > MAX_SAMPLE_BYTES:
        raise FieldError("sample", f"is larger than {MAX_SAMPLE_BYTES // 1024} KiB")
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError as exc:
        raise FieldError("sample", f"is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise FieldError("sample", "must be a JSON object (a hit)")
    if event.strip():
        value["event"] = event.strip()
    if not isinstance(value.get("event"), str):
        raise FieldError("event", "name the event to send (e.g. lead)")
    return value


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
