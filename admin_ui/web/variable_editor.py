"""The variable editor: a variable's type and parameters, with a preview of its value on a
sample hit computed by the data plane's own compiled variables (`variables.user_defined`),
saved through the workspace's validation like every change."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.errors import FieldError, NotFound
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.pages import Pages, place_item
from admin_ui.web.render import render
from admin_ui.web.trigger_editor import SAMPLE_HIT, compiled_variables, preview_hit
from config.errors import DocumentError
from variables.resolver import Resolver
from variables.user_defined import TYPES, check_variable

__all__ = ["VariableEditor", "preview_value"]

_NO_VALUE = object()


def preview_value(
    variable: dict[str, Any], others: list[dict[str, Any]], sample: dict[str, Any]
) -> Any:
    """The variable's value on `sample`, next to the container's other variables."""
    ids = {v.get("id") for v in others if isinstance(v, dict)} | {variable.get("id")}
    problems = check_variable(variable.get("type"), variable.get("params"),
                              {i for i in ids if isinstance(i, str)})  # fmt: skip
    if problems:
        raise FieldError(*problems[0])
    hit = preview_hit(sample)
    functions = compiled_variables([*[v for v in others if v.get("id") != variable["id"]],
                                    variable])  # fmt: skip
    return Resolver(hit, functions).get(f"var.{variable['id']}")


class VariableEditor:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def _render(self, request: Request, container_id: str, variable: dict[str, Any],
                original: str, sample: Any, context: dict[str, Any],
                status: int = 200) -> Response:  # fmt: skip
        params = variable.get("params")
        return render(request, "variable_form.html", {
            "container_id": container_id, "variable": variable, "original": original,
            "params": orjson.dumps(params, option=orjson.OPT_INDENT_2).decode()
            if isinstance(params, dict) else str(params or ""),
            "sample": sample if isinstance(sample, str)
            else orjson.dumps(sample, option=orjson.OPT_INDENT_2).decode(),
            "types": TYPES, "errors": {}, "value": _NO_VALUE, "no_value": _NO_VALUE, **context,
        }, status)  # fmt: skip

    async def form(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "view")
        variable_id = request.path_params.get("variable")
        variable: dict[str, Any] = {"id": "", "name": "", "type": "event_field",
                                    "params": {"path": "data.value"}}  # fmt: skip
        if variable_id is not None:
            found = [v for v in doc.get("variables", []) if v.get("id") == variable_id]
            if not found:
                raise NotFound(f"container {container_id!r} has no variable {variable_id!r}")
            variable = found[0]
        return self._render(request, container_id, variable, variable_id or "", SAMPLE_HIT, {})

    async def save(self, request: Request, me: Principal, form: Form | None) -> Response:
        """Preview on the sample (`preview` pressed) or save into the workspace."""
        assert form is not None
        container_id = request.path_params["container"]
        previewing = form.get("action") == "preview"
        action = "view" if previewing else "edit"
        doc = await self.pages.workspace_document(me, container_id, action)
        original = form.get("original").strip()
        sample_text = form.get("sample")
        variable: dict[str, Any] = {"id": form.get("id").strip(), "name": form.get("name").strip(),
                                    "type": form.get("type")}  # fmt: skip
        try:
            variable["params"] = orjson.loads(form.get("params") or "{}")
        except orjson.JSONDecodeError as exc:
            variable["params"] = form.get("params")
            return self._render(request, container_id, variable, original, sample_text,
                                {"errors": {"params": f"is not JSON: {exc}"}}, 400)  # fmt: skip
        variables: list[dict[str, Any]] = doc.setdefault("variables", [])
        if previewing:
            try:
                sample = orjson.loads(sample_text or "{}")
                if not isinstance(sample, dict):
                    raise FieldError("sample", "must be a JSON object (a hit)")
                value = preview_value(variable, variables, sample)
            except orjson.JSONDecodeError as exc:
                return self._render(request, container_id, variable, original, sample_text,
                                    {"errors": {"sample": f"is not JSON: {exc}"}}, 400)  # fmt: skip
            except FieldError as exc:
                return self._render(request, container_id, variable, original, sample_text,
                                    {"errors": {exc.field: exc.reason}}, 400)  # fmt: skip
            return self._render(request, container_id, variable, original, sample,
                                {"value": value})  # fmt: skip
        place_item(doc, "variables", original, variable)
        try:
            await self.pages.versions.import_document(doc, me.actor, "admin UI variable editor")
        except DocumentError as exc:
            message = "\n".join(str(issue) for issue in exc.issues)
            return self._render(request, container_id, variable, original, sample_text,
                                {"errors": {"$": message}}, 400)  # fmt: skip
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done=imported#variables", 303)
