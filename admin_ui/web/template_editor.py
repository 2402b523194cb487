"""The template editor: a container's own templates (the document's `templates`), edited as
metadata (JSON) and Lua, with their permission manifest shown and their tests run in the
page, the same tests and the same PASS/FAIL lines as `tagwire template test`.

A template change is a workspace change: it is saved through the import's validation and
goes out with the next version, like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.errors import FieldError, NotFound
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.gallery import describe_template
from admin_ui.web.pages import Pages, place_item
from admin_ui.web.render import render
from config.errors import DocumentError
from tags.package import package_from_metadata
from tags.testing import run_tests

__all__ = ["HitCheck", "TemplateEditor"]

HitCheck = Callable[[object], list[str]]

BLANK_META: dict[str, Any] = {
    "id": "", "version": "1.0.0", "description": "",
    "params": {"url": {"type": "string", "format": "url", "required": True, "label": "URL"}},
    "permissions": {"read_event_data": ["event", "event_id"],
                    "send_http": [{"url": "param:url", "methods": ["POST"]}]},
    "tests": [],
}  # fmt: skip
BLANK_LUA = 'send_http({ url = params.url, body = { event = event.get("event") } })\n'


class TemplateEditor:
    """`check_hit` validates a test's hit as `/collect` would (given by the wiring, so the
    control plane does not import the data plane); None runs tests without that check."""

    def __init__(self, pages: Pages, check_hit: HitCheck | None) -> None:
        self.pages = pages
        self.check_hit = check_hit

    async def form(self, request: Request, me: Principal, form: Form | None) -> Response:
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "view")
        template_id = request.path_params.get("template")
        if template_id is None:
            meta, lua = BLANK_META, BLANK_LUA
        else:
            found = [t for t in doc.get("templates", []) if t.get("id") == template_id]
            if not found:
                raise NotFound(f"container {container_id!r} has no template {template_id!r}")
            meta = {k: v for k, v in found[0].items() if k != "lua"}
            lua = str(found[0].get("lua", ""))
        text = orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode()
        return self._render(request, container_id, template_id or "", text, lua, {})

    def _render(
        self,
        request: Request,
        container_id: str,
        original: str,
        meta: str,
        lua: str,
        context: dict[str, Any],
        status: int = 200,
    ) -> Response:
        return render(request, "template_form.html", {
            "container_id": container_id, "original": original, "meta": meta, "lua": lua,
            "problems": [], "outcomes": None, "manifest": None, **context,
        }, status)  # fmt: skip

    async def upload(self, request: Request, me: Principal, form: Form | None) -> Response:
        """A package's files (template.json, template.lua, as `tagwire template test` reads
        them) loaded into the editor with their manifest and test results; nothing is
        saved until the user reviews them and presses save."""
        assert form is not None
        container_id = request.path_params["container"]
        await self.pages.workspace_document(me, container_id, "edit")
        meta_text = _uploaded(form, "package_json")
        lua = _uploaded(form, "package_lua")
        try:
            meta = orjson.loads(meta_text)
        except orjson.JSONDecodeError as exc:
            raise FieldError("package_json", f"is not JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise FieldError("package_json", "must be a JSON object (a template's metadata)")
        if "id" not in meta and "name" in meta:
            meta = {"id": meta["name"], **{k: v for k, v in meta.items() if k != "name"}}
        shown = orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode()
        return await self._checked(request, container_id, "", shown, lua, None, me.actor)

    async def save(self, request: Request, me: Principal, form: Form | None) -> Response:
        """Run the tests (`test` pressed) or save the template into the workspace."""
        assert form is not None
        container_id = request.path_params["container"]
        testing = form.get("action") == "test"
        action = "view" if testing else "edit"
        doc = await self.pages.workspace_document(me, container_id, action)
        original = form.get("original").strip()
        return await self._checked(request, container_id, original, form.get("meta"),
                                   form.get("lua"), None if testing else doc,
                                   me.actor)  # fmt: skip

    async def _checked(
        self,
        request: Request,
        container_id: str,
        original: str,
        meta_text: str,
        lua: str,
        doc: dict[str, Any] | None,
        actor: str,
    ) -> Response:
        """Check a template, then save it into the workspace `doc`, or (None) run its
        tests and show it with its manifest."""
        try:
            meta = orjson.loads(meta_text)
        except orjson.JSONDecodeError as exc:
            problems = [f"metadata: is not JSON: {exc}"]
            return self._render(request, container_id, original, meta_text, lua,
                                {"problems": problems}, 400)  # fmt: skip
        if not isinstance(meta, dict) or not isinstance(meta.get("id"), str):
            raise FieldError("meta", "must be a JSON object with the template's id")
        metadata = {k: v for k, v in meta.items() if k != "id"}
        metadata.setdefault("name", meta["id"])
        package, found = package_from_metadata(metadata, lua)
        if package is None or found:
            problems = [f"{at or 'template'}: {reason}" for at, reason in found]
            return self._render(request, container_id, original, meta_text, lua,
                                {"problems": problems}, 400)  # fmt: skip
        context: dict[str, Any] = {"manifest": describe_template(package)}
        if doc is None:
            context["outcomes"] = run_tests(package, self.check_hit)
            return self._render(request, container_id, original, meta_text, lua, context)
        place_item(doc, "templates", original, {**meta, "lua": lua})
        try:
            await self.pages.versions.import_document(doc, actor, "admin UI template editor")
        except DocumentError as exc:
            context["problems"] = [str(issue) for issue in exc.issues]
            return self._render(request, container_id, original, meta_text, lua, context, 400)
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done=imported#templates", 303)


def _uploaded(form: Form, name: str) -> str:
    """An uploaded file as text; FieldError when it is missing or not UTF-8."""
    data = form.file(name)
    if data is None:
        raise FieldError(name, "choose the file to upload")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FieldError(name, f"is not UTF-8 text (byte {exc.start})") from None
