"""Lua that does not compile, found before a document becomes a workspace or a version.

The schema checks a document's shape; this compiles the Lua of its own templates (the
shipped ones are compiled by their tests), so a syntax error is reported at import with
its JSON path instead of by every node that is asked to serve the version.
"""

from __future__ import annotations

from typing import Any

from config.errors import Issue
from config.schema import template_package
from tags.errors import TemplateError
from tags.runtime import TemplateRuntime

__all__ = ["template_issues"]


def template_issues(doc: dict[str, Any]) -> list[Issue]:
    """One issue per template of a valid document whose Lua does not compile."""
    runtime = TemplateRuntime()
    issues = []
    for index, item in enumerate(doc.get("templates", [])):
        try:
            runtime.compile(template_package(doc, item["id"]))
        except TemplateError as exc:
            issues.append(Issue(f"templates[{index}].lua", exc.message))
    return issues
