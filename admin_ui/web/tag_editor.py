"""The tag editor: a tag's form generated from its template's parameter schema, saved into
the workspace with the same validation as `tagwire validate` and `tagwire import`.

A save rebuilds the workspace document with the tag added or replaced and imports it; the
import is all or nothing, so a refused save changes nothing, and each problem it names is
shown next to its field (a parameter, the triggers, the consent) on the form again.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin_ui.errors import FieldError, NotFound
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.gallery import describe_template
from admin_ui.web.pages import Pages
from admin_ui.web.render import render
from config.errors import DocumentError
from config.schema import template_package
from tags.errors import TemplateError
from tags.package import SHIPPED, TemplatePackage

__all__ = ["GCM_TYPES", "TagEditor"]

GCM_TYPES = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
FIRE_ONCE = ("none", "event_id", "transaction_id", "lead_id")


def _package(doc: dict[str, Any], name: str) -> TemplatePackage | None:
    """The template a tag names (the workspace's own or a shipped one), None when there is
    no such template: the workspace is a valid document, so its own templates load."""
    try:
        return template_package(doc, name)
    except TemplateError:
        return None


def _param_value(spec: dict[str, Any], form: Form, name: str) -> tuple[bool, Any]:
    """(given, value) of a parameter field; an empty optional field is left out, so the
    template's default applies. Values the schema rejects are passed on as typed, for the
    document's validation to name."""
    kind = spec.get("type", "string")
    field = f"param.{name}"
    if kind == "boolean":
        # a checkbox is on or off, never absent: the default is kept by leaving it out
        checked = form.checked(field)
        return checked != bool(spec.get("default", False)), checked
    text = form.get(field).strip()
    if not text:
        return False, None
    if kind == "integer" and text.lstrip("-").isdigit():
        return True, int(text)
    if kind == "number":
        try:
            return True, float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            return True, text
    if kind in ("list", "map"):
        try:
            return True, orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            shape = "a list" if kind == "list" else "an object"
            raise FieldError(field, f"must be JSON ({shape}): {exc}") from None
    return True, text


def _shown(spec: dict[str, Any], value: Any) -> Any:
    """A parameter's value as its input shows it (a checkbox its default when unset)."""
    if spec.get("type") == "boolean":
        return bool(spec.get("default", False)) if value is None else value
    if spec.get("type") in ("list", "map") and value is not None:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return "" if value is None else value


class TagEditor:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def form(self, request: Request, me: Principal, form: Form | None) -> Response:
        """The form of a tag (`tag` in the path) or of a new one (`?template=`)."""
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "view")
        tag_id = request.path_params.get("tag")
        if tag_id is None:
            template = request.query_params.get("template", "")
            tag: dict[str, Any] = {"id": "", "name": "", "template": template, "params": {},
                                   "firing_triggers": []}  # fmt: skip
        else:
            found = [t for t in doc.get("tags", []) if t.get("id") == tag_id]
            if not found:
                raise NotFound(f"container {container_id!r} has no tag {tag_id!r}")
            tag = found[0]
        return self._render(request, container_id, doc, tag, tag_id, {}, 200, me)

    def _render(
        self,
        request: Request,
        container_id: str,
        doc: dict[str, Any],
        tag: dict[str, Any],
        original: str | None,
        errors: dict[str, str],
        status: int,
        me: Principal,
    ) -> Response:
        package = _package(doc, str(tag.get("template", "")))
        if package is None:
            known = ", ".join(SHIPPED)
            raise FieldError("template", f"{tag.get('template')!r} is not a template; use {known}")
        described = describe_template(package)
        params = tag.get("params", {})
        fields = [{**p, "value": _shown(package.params_schema[p["name"]], params.get(p["name"]))}
                  for p in described["params"]]  # fmt: skip
        consent = tag.get("consent", {})
        return render(request, "tag_form.html", {
            "container_id": container_id, "tag": tag, "original": original or "",
            "template": described, "fields": fields, "errors": errors,
            "triggers": [t["id"] for t in doc.get("triggers", [])],
            "variables": [v["id"] for v in doc.get("variables", [])],
            "gcm": consent.get("gcm", []) if isinstance(consent, dict) else [],
            "gcm_types": GCM_TYPES, "fire_once": FIRE_ONCE,
        }, status)  # fmt: skip

    async def save(self, request: Request, me: Principal, form: Form | None) -> Response:
        assert form is not None
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "edit")
        original = form.get("original").strip() or None
        template = form.required("template")
        package = _package(doc, template)
        if package is None:
            raise FieldError("template", f"{template!r} is not a template")
        tags: list[dict[str, Any]] = doc.setdefault("tags", [])
        index = next((i for i, t in enumerate(tags) if t.get("id") == original), None)
        if original is not None and index is None:
            raise NotFound(f"container {container_id!r} has no tag {original!r}")
        tag: dict[str, Any] = dict(tags[index]) if index is not None else {}
        errors: dict[str, str] = {}
        params: dict[str, Any] = {}
        for name, spec in package.params_schema.items():
            try:
                given, value = _param_value(spec, form, name)
            except FieldError as exc:
                errors[exc.field] = exc.reason
                continue
            if given:
                params[name] = value
        gcm = [g for g in form.all("gcm") if g]
        tag.update({
            "id": form.get("id").strip(), "name": form.get("name").strip(), "template": template,
            "params": params, "firing_triggers": form.all("firing"),
            "fire_once": form.get("fire_once", "none"), "enabled": form.checked("enabled"),
        })  # fmt: skip
        blocking = form.all("blocking")
        if blocking:
            tag["blocking_triggers"] = blocking
        else:
            tag.pop("blocking_triggers", None)
        consent = dict(tag.get("consent") or {})
        if gcm:
            consent["gcm"] = gcm
        else:
            consent.pop("gcm", None)
        if consent:
            tag["consent"] = consent
        else:
            tag.pop("consent", None)
        position = index if index is not None else len(tags)
        if index is None:
            tags.append(tag)
        else:
            tags[index] = tag
        if not errors:
            try:
                await self.pages.versions.import_document(doc, me.actor, "admin UI tag editor")
            except DocumentError as exc:
                errors = _field_errors(exc, position)
        if errors:
            return self._render(request, container_id, doc, tag, original, errors, 400, me)
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done=imported#tags", 303)

    async def delete(self, request: Request, me: Principal, form: Form | None) -> Response:
        assert form is not None
        container_id = request.path_params["container"]
        doc = await self.pages.workspace_document(me, container_id, "edit")
        tag_id = request.path_params["tag"]
        tags = doc.get("tags", [])
        kept = [t for t in tags if t.get("id") != tag_id]
        if len(kept) == len(tags):
            raise NotFound(f"container {container_id!r} has no tag {tag_id!r}")
        doc["tags"] = kept
        await self.pages.versions.import_document(doc, me.actor, "admin UI tag editor")
        root = request.scope["root_path"]
        return RedirectResponse(f"{root}/containers/{container_id}?done=imported#tags", 303)


def _field_errors(exc: DocumentError, position: int) -> dict[str, str]:
    """The document's issues as form fields: the tag's own by field, the rest under `$`."""
    prefix = f"tags[{position}]"
    fields = {"params": "param", "firing_triggers": "firing", "blocking_triggers": "blocking",
              "consent": "gcm", "id": "id", "name": "name", "fire_once": "fire_once",
              "template": "template", "enabled": "enabled"}  # fmt: skip
    errors: dict[str, str] = {}
    for issue in exc.issues:
        path = issue.path
        if not path.startswith(prefix):
            errors.setdefault("$", "")
            errors["$"] = f"{errors['$']}{issue}\n"
            continue
        rest = path[len(prefix):].lstrip(".")
        head = rest.split(".", 1)[0].split("[", 1)[0]
        if head == "params" and "." in rest:
            key = "param." + rest.split(".", 2)[1].split("[", 1)[0]
        else:
            key = fields.get(head, "$")
        errors[key] = f"{errors[key]}; {issue.reason}" if key in errors else issue.reason
    return errors
