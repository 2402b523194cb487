"""The trigger editor: events, conditions and exceptions, with a "would it fire?" check on
a sample hit that runs the data plane's own evaluator (`triggers.Trigger` over a
`variables.Resolver` with the container's compiled variables), not a copy of it.

Conditions are edited as the document writes them (nested `all`/`any` groups of
`{"var", "op", "value"}` leaves, listed operators); a save goes through the import's
validation like every workspace change, and its refusals are shown on the form.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.errors import FieldError, NotFound
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.pages import Pages, place_item
from admin_ui.web.render import render
from config.errors import DocumentError
from triggers.conditions import OPERATORS
from triggers.trigger import Trigger, check_trigger_rules
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


BUILDER_ROWS = 6  # condition rows the builder shows (the filled ones, then empty ones)
_NUMBER_OPS = ("gt", "gte", "lt", "lte")
_LIST_OPS = ("in", "not_in")
_PRESENCE_OPS = ("exists", "not_exists")


def builder_rows(conditions: Any) -> tuple[list[dict[str, str]] | None, str]:
    """The condition as builder rows (var, op, value as typed) and "all" or "any", when it
    is a leaf or one flat group of leaves; (None, "all") when it nests groups (edited as
    JSON then)."""
    if conditions is None:
        leaves: list[Any] = []
        match = "all"
    elif not isinstance(conditions, dict):
        return None, "all"
    elif "var" in conditions:
        leaves, match = [conditions], "all"
    else:
        match = "all" if "all" in conditions else "any"
        leaves = conditions.get(match, [])
    if not all(isinstance(leaf, dict) and "var" in leaf for leaf in leaves):
        return None, "all"
    rows = []
    for leaf in leaves:
        value = leaf.get("value", "")
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append({"var": str(leaf["var"]), "op": str(leaf.get("op", "")), "value": shown})
    rows += [{"var": "", "op": "equals", "value": ""}] * max(1, BUILDER_ROWS - len(rows))
    return rows, match


def _typed(op: str, text: str) -> Any:
    """A condition's value as the builder's text field gives it, typed by its operator."""
    if op in _NUMBER_OPS:
        try:
            number = float(text)
        except ValueError:
            raise FieldError("conditions", f"{op} needs a number, not {text!r}") from None
        return int(number) if number.is_integer() else number
    if op in _LIST_OPS:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def built_conditions(form: Form) -> dict[str, Any] | None:
    """The builder's rows as a condition: rows without a reference are left out; one row
    is a leaf, more are an `all` or `any` group."""
    leaves = []
    for ref, op, text in zip(form.all("cond_var"), form.all("cond_op"), form.all("cond_value"),
                             strict=False):  # fmt: skip
        ref, op = ref.strip(), op.strip()
        if not ref:
            continue
        leaf: dict[str, Any] = {"var": ref, "op": op}
        if op not in _PRESENCE_OPS:
            leaf["value"] = _typed(op, text.strip())
        leaves.append(leaf)
    if not leaves:
        return None
    if len(leaves) == 1:
        return leaves[0]
    return {"any" if form.get("match") == "any" else "all": leaves}


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


class TriggerEditor:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

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
        return self._render(request, container_id, trigger, trigger_id or "", SAMPLE_HIT, {})

    def _render(
        self,
        request: Request,
        container_id: str,
        trigger: dict[str, Any],
        original: str,
        sample: Any,
        context: dict[str, Any],
        status: int = 200,
    ) -> Response:
        def shown(value: Any) -> str:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() if value else ""

        rows, match = builder_rows(trigger.get("conditions"))
        return render(request, "trigger_form.html", {
            "container_id": container_id, "trigger": trigger, "original": original,
            "rows": rows, "match": match, "builder": rows is not None,
            "events": ", ".join(trigger.get("events", [])),
            "conditions": shown(trigger.get("conditions")),
            "exceptions": shown(trigger.get("exceptions")),
            "sample": orjson.dumps(sample, option=orjson.OPT_INDENT_2).decode()
            if not isinstance(sample, str) else sample,
            "operators": OPERATORS, "verdict": None, "errors": {}, **context,
        }, status)  # fmt: skip

    def _from_form(self, form: Form) -> dict[str, Any]:
        trigger: dict[str, Any] = {
            "id": form.get("id").strip(),
            "name": form.get("name").strip(),
            "events": [e.strip() for e in form.get("events").split(",") if e.strip()],
        }
        if form.get("mode") == "builder":
            conditions = built_conditions(form)
        else:
            conditions = _json(form, "conditions", None)
        if conditions is not None:
            trigger["conditions"] = conditions
        exceptions = _json(form, "exceptions", None)
        if exceptions is not None:
            trigger["exceptions"] = exceptions
        return trigger

    async def save(self, request: Request, me: Principal, form: Form | None) -> Response:
        """Check against the sample (`check` pressed) or save into the workspace."""
        assert form is not None
        container_id = request.path_params["container"]
        checking = form.get("action") == "check"
        action = "view" if checking else "edit"
        doc = await self.pages.workspace_document(me, container_id, action)
        original = form.get("original").strip()
        sample_text = form.get("sample")
        try:
            trigger = self._from_form(form)
        except FieldError as exc:
            bad = {"id": form.get("id"), "name": form.get("name"), "events": []}
            return self._render(request, container_id, bad, original, sample_text,
                                {"errors": {exc.field: exc.reason}}, 400)  # fmt: skip
        if checking:
            try:
                sample = _json(form, "sample", {})
                if not isinstance(sample, dict):
                    raise FieldError("sample", "must be a JSON object (a hit)")
                verdict = would_fire(trigger, doc.get("variables", []), sample)
            except FieldError as exc:
                return self._render(request, container_id, trigger, original, sample_text,
                                    {"errors": {exc.field: exc.reason}}, 400)  # fmt: skip
            return self._render(request, container_id, trigger, original, sample,
                                {"verdict": verdict})  # fmt: skip
        place_item(doc, "triggers", original, trigger)
        _rename_references(doc, original, trigger["id"])
        try:
            await self.pages.versions.import_document(doc, me.actor, "admin UI trigger editor")
        except DocumentError as exc:
            message = "\n".join(str(issue) for issue in exc.issues)
            return self._render(request, container_id, trigger, original, sample_text,
                                {"errors": {"$": message}}, 400)  # fmt: skip
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done=imported#triggers", 303)


def _rename_references(doc: dict[str, Any], old: str, new: str) -> None:
    """Tags keep firing on a renamed trigger."""
    if not old or old == new:
        return
    for tag in doc.get("tags", []):
        for key in ("firing_triggers", "blocking_triggers"):
            if isinstance(tag.get(key), list):
                tag[key] = [new if t == old else t for t in tag[key]]
