"""What changed between two container documents: as data for the admin UI, as text for the CLI.

Built over documents rather than versions so that it works on files today and on stored
versions later. Items of `variables`, `triggers`, `templates` and `tags` are matched by `id`,
so moving an item in its list is not a change; key order never is either. Inside an item,
objects are compared key by key, lists of objects index by index, and any other list as a
whole (so `["a", "b"]` -> `["b", "a"]` is a change: order can matter to a template).

Documents should hold only secret *names*, but a value under a key that looks secret
(`access_token`, `api_secret`, `password`, ...) is shown as `***` in both renderings anyway,
because a diff is pasted into tickets and chat. The dataclasses keep the real values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABSENT",
    "SECTIONS",
    "DiffError",
    "DocumentDiff",
    "FieldChange",
    "ItemChange",
    "SectionDiff",
    "diff_documents",
    "masked",
]

SECTIONS = ("variables", "triggers", "templates", "tags")
_SINGULAR = {"variables": "variable", "triggers": "trigger", "templates": "template", "tags": "tag"}
_SECRET_KEY = re.compile(r"token|secret|password|passwd|api_key", re.IGNORECASE)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Characters json.dumps leaves alone that a terminal may still act on or display misleadingly.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MASK = "***"
_COUNTED = ("added", "removed", "changed")
_MAX_SHOWN = 60


class _Absent:
    """A field that one side does not have (distinct from an explicit `null`)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


class DiffError(ValueError):
    """A document too malformed to diff; validate it first (`tagwire validate`)."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. `old`/`new` is ABSENT when the field exists on one side only;
    `sensitive` when a key on the path looks secret, so renderings mask the values."""

    path: str
    old: Any
    new: Any
    sensitive: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        for name, value in (("old", self.old), ("new", self.new)):
            if value is not ABSENT:
                out[name] = _MASK if self.sensitive else masked(value)
        return out

    def to_text(self) -> str:
        return f"{self.path} {self._show(self.old)} -> {self._show(self.new)}"

    def _show(self, value: Any) -> str:
        if value is ABSENT:
            return "(absent)"
        if self.sensitive:
            return _MASK
        text = json.dumps(masked(value), ensure_ascii=False, sort_keys=True, default=str)
        text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An item present in both documents whose fields differ."""

    id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class SectionDiff:
    """One list of the document; ids sorted so the result does not depend on item order."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ItemChange, ...] = ()
    unchanged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [
                {"id": item.id, "changes": [c.to_json() for c in item.changes]}
                for item in self.changed
            ],
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True)
class DocumentDiff:
    """Everything that differs between two documents."""

    container: tuple[FieldChange, ...]
    variables: SectionDiff
    triggers: SectionDiff
    templates: SectionDiff
    tags: SectionDiff

    def sections(self) -> Iterator[tuple[str, SectionDiff]]:
        """The four item sections in document order."""
        for name in SECTIONS:
            yield name, getattr(self, name)

    @property
    def equal(self) -> bool:
        return not self.container and all(
            not (s.added or s.removed or s.changed) for _, s in self.sections()
        )

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists in a fixed order, ready for orjson and the admin UI."""
        out: dict[str, Any] = {
            "equal": self.equal,
            "container": [c.to_json() for c in self.container],
        }
        out.update((name, section.to_json()) for name, section in self.sections())
        return out

    def to_text(self) -> str:
        """One line per change (`+`, `-`, `~`) and a summary line, or "no changes"."""
        if self.equal:
            return "no changes"
        lines = [f"~ container: {c.to_text()}" for c in self.container]
        for name, section in self.sections():
            kind = _SINGULAR[name]
            lines.extend(f"+ {kind} {item_id}" for item_id in section.added)
            lines.extend(f"- {kind} {item_id}" for item_id in section.removed)
            for item in section.changed:
                lines.extend(f"~ {kind} {item.id}: {c.to_text()}" for c in item.changes)
        totals = [sum(len(getattr(s, f)) for _, s in self.sections()) for f in _COUNTED]
        unchanged = sum(s.unchanged for _, s in self.sections())
        lines.append(
            f"{totals[0]} added, {totals[1]} removed, {totals[2]} changed, {unchanged} unchanged"
        )
        return "\n".join(lines)


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> DocumentDiff:
    """Compare two container documents (as `config.schema.load_document` returns them)."""
    before, after = _part(old, "container", {}), _part(new, "container", {})
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise DiffError("container must be an object; validate the document first")
    container = _fields(before, after)
    sections = {name: _section(old, new, name) for name in SECTIONS}
    return DocumentDiff(container=tuple(container), **sections)


def _part(doc: dict[str, Any], name: str, default: Any) -> Any:
    if not isinstance(doc, dict):
        raise DiffError(f"a container document must be an object, not {type(doc).__name__}")
    return doc.get(name, default)


def _section(old: dict[str, Any], new: dict[str, Any], name: str) -> SectionDiff:
    before, after = _by_id(_part(old, name, []), name), _by_id(_part(new, name, []), name)
    changed = []
    for item_id in sorted(before.keys() & after.keys()):
        changes = _fields(before[item_id], after[item_id])
        if changes:
            changed.append(ItemChange(item_id, tuple(changes)))
    common = len(before.keys() & after.keys())
    return SectionDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(changed),
        unchanged=common - len(changed),
    )


def _by_id(items: Any, name: str) -> dict[str, dict[str, Any]]:
    if not isinstance(items, list):
        raise DiffError(f"{name} must be a list; validate the document first")
    found: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            raise DiffError(f"{name}[{index}] has no string id; validate the document first")
        if item_id in found:
            raise DiffError(f"{name}[{index}]: id {item_id!r} is used twice; validate first")
        found[item_id] = item
    return found


def _fields(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    out: list[FieldChange] = []
    _walk(old, new, "", False, out)
    return out


def _walk(old: Any, new: Any, path: str, sensitive: bool, out: list[FieldChange]) -> None:
    """Append the differences below `path`, in a stable order (sorted keys, then indexes)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            sub = _key_path(path, key)
            secret = sensitive or bool(_SECRET_KEY.search(str(key)))
            _walk(old.get(key, ABSENT), new.get(key, ABSENT), sub, secret, out)
    elif _object_list(old) and _object_list(new):
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else ABSENT
            after = new[index] if index < len(new) else ABSENT
            _walk(before, after, f"{path}[{index}]", sensitive, out)
    elif not _same(old, new):
        out.append(FieldChange(path, old, new, sensitive))


def _key_path(path: str, key: object) -> str:
    """`a.b`, or `a["odd key"]` when the key would make the path ambiguous."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False, default=str)}]"


def _object_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike `==`, `true` is not `1`; `1` and `1.0` are the same number."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def masked(value: Any) -> Any:
    """A copy of `value` with every secret-looking key's value replaced by `***`: for
    anything shown to people (diffs, an outbox row's payload in the admin UI)."""
    if isinstance(value, dict):
        return {k: _MASK if _SECRET_KEY.search(str(k)) else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value
