"""The trigger editor: events, conditions and exceptions, with a "would it fire?" check on
a sample hit that runs the data plane's own evaluator (`triggers.Trigger` over a
`variables.Resolver` with the container's compiled variables), not a copy of it.

Conditions and exceptions are edited in a script-free builder (`condition_form`: a tree
of `all`/`any` groups and rows, changed by buttons that are round trips) or as JSON in the
document's own shape; a save goes through the import's validation like every workspace
change, and its refusals are shown on the form, next to the builder's row they are about.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.errors import FieldError, NotFound
from admin_ui.people import Principal
from admin_ui.web.condition_form import (
    MAX_ITEMS,
    ROW_FIELDS,
    Built,
    Rules,
    apply_action,
    build,
    room,
    row_field,
    rules_from_form,
    rules_of,
)
from admin_ui.web.forms import Form
from admin_ui.web.pages import Pages, place_item
from admin_ui.web.recent_hits import recent_hits
from admin_ui.web.render import render
from config.errors import DocumentError
from config.storage import PreviewStore
from triggers.conditions import MAX_DEPTH, OPERATORS
from triggers.trigger import MAX_EXCEPTIONS, Trigger, check_trigger_rules
from variables.hit import Hit
from variables.resolver import Resolver, VariableFunction
from variables.user_defined import compile_variable

__all__ = ["SAMPLE_HIT", "TriggerEditor", "compiled_variables", "preview_hit", "would_fire"]

SAMPLE_HIT: dict[str, Any] = {
    "v": 1, "event": "lead", "event_id": "sample-0001",
    "page": {"url": "https://www.example.com/thanks?utm_source=meta", "title": "Thanks"},
    "data": {"value": 50, "currency": "EUR", "lead_id": "L-1"},
}  # fmt: skip


def _json(form: Form, name: str, default: Any) -> Any:
    text = form.get(name).strip()
    if not text:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FieldError(name, f"is not JSON: {exc}") from None


def preview_hit(sample: dict[str, Any]) -> Hit:
    """A sample wire hit as the pipeline's Hit, for previews; FieldError without an event."""
    if not isinstance(sample.get("event"), str):
        raise FieldError("sample", "the sample hit needs an event name (\"event\")")
    now = int(time.time() * 1000)
    event_id = str(sample.get("event_id", "sample"))
    return Hit("preview", sample["event"], event_id, sample, now, now, "203.0.113.9",
               "Mozilla/5.0 (preview)", None, False, "preview", {}, [])  # fmt: skip


def compiled_variables(variables: list[dict[str, Any]]) -> dict[str, VariableFunction]:
    """The container's variables compiled as the data plane compiles them."""
    return {v["id"]: compile_variable(v["type"], v.get("params", {})) for v in variables}


def would_fire(
    trigger: dict[str, Any], variables: list[dict[str, Any]], sample: dict[str, Any]
) -> bool:
    """Whether `trigger` fires on `sample` (a wire hit) with the container's variables, as
    the data plane decides it. Raises FieldError for a trigger or hit it cannot check."""
    ids = {v.get("id") for v in variables if isinstance(v, dict)}
    problems = check_trigger_rules(trigger, "trigger", {i for i in ids if isinstance(i, str)})
    if problems:
        raise FieldError(problems[0][0], problems[0][1])
    hit = preview_hit(sample)
    compiled = Trigger.compile(trigger)
    functions = compiled_variables(variables)
    return compiled.fires(hit.event, lambda: Resolver(hit, functions))


def _shown(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() if value else ""


def _fields_of(trigger: dict[str, Any], sample: dict[str, Any] = SAMPLE_HIT) -> dict[str, str]:
    """The form's fields for a saved (checked) trigger, checked on `sample`."""
    return {
        "id": trigger["id"], "name": trigger["name"], "mode": "builder",
        "events": ", ".join(trigger.get("events", [])),
        "conditions": _shown(trigger.get("conditions")),
        "exceptions": _shown(trigger.get("exceptions")),
        "sample": orjson.dumps(sample, option=orjson.OPT_INDENT_2).decode(),
    }  # fmt: skip


def _typed(form: Form) -> dict[str, str]:
    """The form's fields as typed, to show them again on a round trip."""
    names = ("id", "name", "events", "conditions", "exceptions", "sample")
    fields = {name: form.get(name) for name in names}
    fields["mode"] = "builder" if form.get("mode") == "builder" else "json"
    return fields


def _trigger_of(form: Form, built: Built | None) -> dict[str, Any]:
    """The trigger the form describes: its conditions and exceptions from the builder
    (`built`) or from the JSON fields (None)."""
    trigger: dict[str, Any] = {
        "id": form.get("id").strip(),
        "name": form.get("name").strip(),
        "events": [e.strip() for e in form.get("events").split(",") if e.strip()],
    }
    if built is not None:
        conditions, exceptions = built.conditions, built.exceptions or None
    else:
        conditions = _json(form, "conditions", None)
        exceptions = _json(form, "exceptions", None)
    if conditions is not None:
        trigger["conditions"] = conditions
    if exceptions is not None:
        trigger["exceptions"] = exceptions
    return trigger


# what the builder's buttons may still add (the template hides a button beyond them)
LIMITS = {
    "row": ROW_FIELDS, "per_group": MAX_ITEMS, "depth": MAX_DEPTH, "exceptions": MAX_EXCEPTIONS,
}  # fmt: skip


def _render_form(
    request: Request,
    doc: dict[str, Any],
    original: str,
    fields: dict[str, str],
    rules: Rules,
    context: dict[str, Any],
    status: int = 200,
) -> Response:
    """The trigger form with `fields` as given and the builder showing `rules`."""
    left = room(rules)
    variables = [v.get("id") for v in doc.get("variables", []) if isinstance(v, dict)]
    return render(request, "trigger_form.html", {
        "container_id": request.path_params["container"], "original": original,
        "f": fields, "rules": rules, "fits": left >= 0, "room": left, "limits": LIMITS,
        "variables": variables, "operators": OPERATORS, "verdict": None, "errors": {},
        "recent": [], **context,
    }, status)  # fmt: skip


def _follow(fields: dict[str, str], rules: Rules) -> None:
    """The JSON fields as the builder's tree makes them, when it makes a condition (a row
    with a bad value leaves them as they were)."""
    try:
        built = build(rules)
    except FieldError:
        return
    fields["conditions"] = _shown(built.conditions)
    fields["exceptions"] = _shown(built.exceptions)


class TriggerEditor:
    def __init__(self, pages: Pages, previews: PreviewStore) -> None:
        """`previews` holds the preview hits offered as samples."""
        self.pages = pages
        self.previews = previews

    async def form(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "view")
        trigger_id = request.path_params.get("trigger")
        trigger: dict[str, Any] = {"id": "", "name": "", "events": []}
        if trigger_id is not None:
            found = [t for t in doc.get("triggers", []) if t.get("id") == trigger_id]
            if not found:
                raise NotFound(f"container {container_id!r} has no trigger {trigger_id!r}")
            trigger = found[0]
        recent = await recent_hits(self.previews, container_id)
        picked = request.query_params.get("sample")
        sample = next((r.hit for r in recent if r.key == picked), SAMPLE_HIT)
        return _render_form(request, doc, trigger_id or "", _fields_of(trigger, sample),
                            rules_of(trigger), {"recent": recent, "picked": picked})  # fmt: skip

    async def save(self, request: Request, me: Principal, form: Form | None) -> Response:
        """A builder button's round trip, a check against the sample (`check`), or a save
        into the workspace (`save`); only a save changes anything."""
        assert form is not None
        container_id = request.path_params["container"]
        action = form.get("action")
        doc = await self.pages.workspace_document(
            me, container_id, "edit" if action == "save" else "view"
        )
        original = form.get("original").strip()
        rules = rules_from_form(form)
        fields = _typed(form)
        if apply_action(rules, action):
            if fields["mode"] == "builder":
                _follow(fields, rules)
            fields["mode"] = "builder"
            return _render_form(request, doc, original, fields, rules, {})
        if action not in ("check", "save"):
            raise FieldError("action", "must be check, save or a builder button")
        page = _Page(request, doc, original, fields, rules)
        if action == "check":
            return page.check(form)
        return await self._save(page, form, me)

    async def _save(self, page: _Page, form: Form, me: Principal) -> Response:
        built, trigger = page.trigger(form)
        if trigger is None:
            return page.refused()
        doc = page.doc
        index = place_item(doc, "triggers", page.original, trigger)
        _rename_references(doc, page.original, trigger["id"])
        try:
            await self.pages.versions.import_document(doc, me.actor, "admin UI trigger editor")
        except DocumentError as exc:
            message = "\n".join(str(issue) for issue in exc.issues)
            rows = built.rows if built is not None else {}
            errors = {"$": message, **_row_errors(exc, f"triggers[{index}]", rows)}
            return page.show({"errors": errors}, 400)
        root = page.request.scope["root_path"]
        to = f"{root}/containers/{page.container_id}?done=imported#triggers"
        return RedirectResponse(to, 303)


def _row_errors(exc: DocumentError, prefix: str, rows: dict[str, str]) -> dict[str, str]:
    """The import's refusals of the builder's rows, under the rows' field names."""
    errors = {}
    for issue in exc.issues:
        if issue.path.startswith(prefix + "."):
            path = "trigger" + issue.path.removeprefix(prefix)
            if row_field(rows, path) != path:
                errors[row_field(rows, path)] = issue.reason
    return errors


class _Page:
    """One submitted trigger form being answered: its fields as typed and its tree."""

    def __init__(self, request: Request, doc: dict[str, Any], original: str,
                 fields: dict[str, str], rules: Rules) -> None:  # fmt: skip
        self.request, self.doc = request, doc
        self.original, self.fields, self.rules = original, fields, rules
        self.container_id: str = request.path_params["container"]
        self.errors: dict[str, str] = {}

    def show(self, context: dict[str, Any], status: int = 200) -> Response:
        return _render_form(self.request, self.doc, self.original, self.fields,
                            self.rules, context, status)  # fmt: skip

    def refused(self) -> Response:
        return self.show({"errors": self.errors}, 400)

    def trigger(self, form: Form) -> tuple[Built | None, dict[str, Any] | None]:
        """The trigger as the chosen mode makes it, with the other mode's fields brought in
        line; (built, None) with `errors` set when a field cannot be read."""
        built = None
        try:
            if form.get("mode") == "builder":
                built = build(self.rules)
            trigger = _trigger_of(form, built)
        except FieldError as exc:
            self.errors = {exc.field: exc.reason}
            return built, None
        if built is not None:
            _follow(self.fields, self.rules)
        return built, trigger

    def check(self, form: Form) -> Response:
        built, trigger = self.trigger(form)
        if trigger is None:
            return self.refused()
        try:
            sample = _json(form, "sample", {})
            if not isinstance(sample, dict):
                raise FieldError("sample", "must be a JSON object (a hit)")
            verdict = would_fire(trigger, self.doc.get("variables", []), sample)
        except FieldError as exc:
            rows = built.rows if built is not None else {}
            self.errors = {row_field(rows, exc.field): exc.reason}
            return self.refused()
        if built is None:
            self.rules = rules_of(trigger)
        return self.show({"verdict": verdict})


def _rename_references(doc: dict[str, Any], old: str, new: str) -> None:
    """Tags keep firing on a renamed trigger."""
    if not old or old == new:
        return
    for tag in doc.get("tags", []):
        for key in ("firing_triggers", "blocking_triggers"):
            if isinstance(tag.get(key), list):
                tag[key] = [new if t == old else t for t in tag[key]]
