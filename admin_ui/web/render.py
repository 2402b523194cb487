"""Jinja2 rendering for the admin pages: autoescaped HTML, the CSP nonce and the session's
CSRF token available to every template, and one filter for times."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from admin_ui.web.security import NONCE_KEY

__all__ = ["render"]

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ms: int | None) -> str:
    if not ms:
        return "—"
    at = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


_ENV.filters["when"] = _when


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    session = request.scope.get("tagwire.session")
    page = {
        "nonce": request.scope.get(NONCE_KEY, ""),
        "csrf": session.csrf if session is not None else "",
        "me": request.scope.get("tagwire.principal"),
        "root": request.scope.get("root_path", ""),
        **context,
    }
    return HTMLResponse(_ENV.get_template(template).render(page), status_code=status)
