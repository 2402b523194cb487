"""The template gallery: the shipped templates with their parameters, permissions and
consent floor, and their Lua source, for anyone signed in (nothing of a client here)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from admin_ui.errors import NotFound
from admin_ui.people import Principal
from admin_ui.web.forms import Form
from admin_ui.web.render import render
from tags.package import SHIPPED, TemplatePackage, shipped_template

__all__ = ["Gallery", "describe_template"]


def describe_template(package: TemplatePackage) -> dict[str, Any]:
    """What a user needs to judge a template before using it, as plain data."""
    manifest = package.manifest
    sends = [
        {"to": g.pattern.source if g.pattern is not None else f"the {g.param} parameter",
         "methods": ", ".join(g.methods)}
        for g in manifest.send_http
    ]  # fmt: skip
    reads = ["everything"] if manifest.read_any else [
        *manifest.read_keys, *(prefix + "*" for prefix in manifest.read_prefixes)
    ]  # fmt: skip
    params = [
        {"name": name, "type": spec.get("type", "string"), "required": bool(spec.get("required")),
         "default": spec.get("default"), "label": spec.get("label", name),
         "description": spec.get("description", ""), "choices": spec.get("enum")}
        for name, spec in package.params_schema.items()
    ]  # fmt: skip
    return {
        "name": package.name, "version": package.version, "description": package.description,
        "consent": list(package.consent), "params": params, "reads": reads, "sends": sends,
        "pixels": list(manifest.pixel_vendors), "secrets": list(manifest.secrets),
        "cookies": [*manifest.get_cookies, *manifest.set_cookies], "tests": len(package.tests),
    }  # fmt: skip


class Gallery:
    async def index(self, request: Request, me: Principal, form: Form | None) -> Response:
        templates = [describe_template(shipped_template(name)) for name in SHIPPED]
        return render(request, "templates.html", {"templates": templates})

    async def template(self, request: Request, me: Principal, form: Form | None) -> Response:
        name = request.path_params["name"]
        if name not in SHIPPED:
            raise NotFound(f"no shipped template named {name!r}; the gallery lists them")
        package = shipped_template(name)
        return render(request, "template.html", {"t": describe_template(package),
                      "source": package.source})  # fmt: skip
