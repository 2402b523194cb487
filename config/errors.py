"""Error types for container documents, shared by the validator, the loader and their callers.

They live apart from the schema so that storage, the admin UI and the CLI can catch and render
document problems without importing the validator itself.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DocumentError", "Issue"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a document: where it is (`tags[2].firing_triggers[0]`, or `$` for the
    whole document) and what is wrong, worded so the author knows what to change."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class DocumentError(Exception):
    """A document that cannot be used. It carries every issue at once, so one round of edits
    can fix them all, and its message lists them one per line under the source name."""

    def __init__(self, issues: list[Issue], source: str = "<document>") -> None:
        self.issues = list(issues)
        self.source = source
        count = len(self.issues)
        lines = [f"{source}: {count} issue{'' if count == 1 else 's'} in the container document"]
        lines.extend(f"  {issue}" for issue in self.issues)
        super().__init__("\n".join(lines))
