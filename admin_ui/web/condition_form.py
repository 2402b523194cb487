"""The condition builder's tree as form fields, and back, without JavaScript.

A node's fields are named by its path: `c` is the trigger's conditions (a group in the
builder), `x.N` its Nth exception (a group too); a group's items follow by index (`c.0`,
`c.1.2`). A group has `PATH.match` (all or any); a row (a leaf) has `PATH.var`, `PATH.op`,
`PATH.value` and the checkboxes `PATH.json` (the value is JSON) and `PATH.icase`
(ignore_case). Names are read against that grammar and the data plane's own limits (how
deep groups nest, how many exceptions), so a made-up name is a FieldError that names it,
never a deep or huge structure. Buttons name a path too (`row:c.1`, `remove:x.0.2`): a
round trip changes the tree and saves nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from admin_ui.errors import FieldError
from admin_ui.web.forms import MAX_FORM_FIELDS, Form
from triggers.conditions import LIST_OPS, MAX_DEPTH, NUMBER_OPS, OPERATORS, PRESENCE_OPS
from triggers.trigger import MAX_EXCEPTIONS

__all__ = [
    "MAX_ITEMS",
    "ROW_FIELDS",
    "Built",
    "Group",
    "Leaf",
    "Rules",
    "apply_action",
    "build",
    "room",
    "row_field",
    "rules_from_form",
    "rules_of",
]

PAGE_FIELDS = 12  # the trigger form's other fields (csrf, id, name, ..., the textareas)
MAX_ITEMS = MAX_FORM_FIELDS // 3  # a group's rows and groups: a row takes at least 3 fields
ROW_FIELDS = 5  # the most one row can send: var, op, value and both checkboxes
_ROW_SUFFIXES = ("var", "op", "value", "json", "icase")
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_INT_LIMIT = 2**63  # the document's integers are 64-bit (orjson refuses more)


@dataclass
class Leaf:
    """One row as typed: its value is text, read by its operator when the form is used."""

    kind: ClassVar[str] = "row"
    var: str = ""
    op: str = "equals"
    value: str = ""
    as_json: bool = False
    ignore_case: bool = False


@dataclass
class Group:
    kind: ClassVar[str] = "group"
    match: str = "all"
    items: list[Leaf | Group] = field(default_factory=list)


Node = Leaf | Group
Key = tuple[str, tuple[int, ...]]  # ("c", (1, 0)) is c.1.0, ("x.2", ()) is x.2


@dataclass
class Rules:
    """The builder's whole tree: the conditions and the exceptions."""

    conditions: Group
    exceptions: list[Group]


def _name(key: Key) -> str:
    root, indexes = key
    return ".".join([root, *map(str, indexes)])


# --- reading the form -------------------------------------------------------------------


def _index(text: str, limit: int, name: str) -> int:
    if not (text.isascii() and text.isdecimal()) or (len(text) > 1 and text[0] == "0"):
        raise FieldError(name, f"{text!r} is not an index")
    if len(text) > len(str(limit)) or int(text) >= limit:
        raise FieldError(name, f"index {text} is beyond the builder's {limit} items")
    return int(text)


def _key(path: str, name: str) -> Key:
    """`c.1.0` as ("c", (1, 0)), `x.2.0` as ("x.2", (0,)); FieldError(`name`) otherwise."""
    parts = path.split(".")
    if parts[0] == "c":
        root, rest = "c", parts[1:]
    elif parts[0] == "x" and len(parts) > 1:
        root, rest = f"x.{_index(parts[1], MAX_EXCEPTIONS, name)}", parts[2:]
    else:
        raise FieldError(name, "is not a field of the condition builder")
    if len(rest) > MAX_DEPTH:
        raise FieldError(name, f"nests conditions deeper than {MAX_DEPTH} levels")
    return root, tuple(_index(part, MAX_ITEMS, name) for part in rest)


def _builder_names(form: Form) -> Iterable[str]:
    return [name for name in form.names() if name.startswith(("c.", "x."))]


def rules_from_form(form: Form) -> Rules:
    """The tree the form's builder fields describe, as typed; FieldError names a field
    that is not the builder's, a row without its group, or a group nested too deep."""
    nodes: dict[Key, dict[str, str]] = {}
    for name in _builder_names(form):
        path, _, suffix = name.rpartition(".")
        if suffix not in ("match", *_ROW_SUFFIXES):
            raise FieldError(name, "is not a field of the condition builder")
        nodes.setdefault(_key(path, name), {})[suffix] = form.get(name)
    children: dict[Key, list[int]] = {}
    for key in sorted(nodes):
        _check_node(key, nodes)
        root, indexes = key
        if indexes:
            children.setdefault((root, indexes[:-1]), []).append(indexes[-1])
    conditions = _group(("c", ()), nodes, children) if ("c", ()) in nodes else Group()
    exceptions = [_group(k, nodes, children) for k in sorted(nodes, key=_order) if _is_x_root(k)]
    return Rules(conditions, exceptions)


def _order(key: Key) -> tuple[int, tuple[int, ...]]:
    root, indexes = key
    return (int(root[2:]) if root != "c" else -1), indexes


def _is_x_root(key: Key) -> bool:
    return key[0] != "c" and not key[1]


def _check_node(key: Key, nodes: dict[Key, dict[str, str]]) -> None:
    fields = nodes[key]
    name = _name(key)
    root, indexes = key
    if indexes:
        parent = (root, indexes[:-1])
        if "match" not in nodes.get(parent, {}):
            raise FieldError(f"{_name(parent)}.match", f"is missing: {name} needs its group")
    if "match" in fields:
        if len(fields) > 1:
            raise FieldError(f"{name}.match", "a node is a row or a group, not both")
        if fields["match"] not in ("all", "any"):
            raise FieldError(f"{name}.match", "must be all or any")
        if len(indexes) >= MAX_DEPTH:
            raise FieldError(f"{name}.match", f"groups nest at most {MAX_DEPTH} levels")
        return
    if not indexes:
        raise FieldError(f"{name}.match", "is missing: the conditions and each exception "
                         "are a group of rows")  # fmt: skip
    for part in ("var", "op"):
        if part not in fields:
            raise FieldError(f"{name}.{part}", "is missing")
    if fields["op"] not in OPERATORS:
        raise FieldError(f"{name}.op", "must be one of " + ", ".join(OPERATORS))


def _group(key: Key, nodes: dict[Key, dict[str, str]], children: dict[Key, list[int]]) -> Group:
    root, indexes = key
    items: list[Node] = []
    for index in children.get(key, []):
        child = (root, (*indexes, index))
        fields = nodes[child]
        if "match" in fields:
            items.append(_group(child, nodes, children))
        else:
            items.append(Leaf(fields["var"], fields["op"], fields.get("value", ""),
                              "json" in fields, "icase" in fields))  # fmt: skip
    return Group(nodes[key]["match"], items)


# --- the tree as a condition ------------------------------------------------------------


@dataclass
class Built:
    """The conditions and exceptions the builder made, and which builder row each of their
    document paths came from (to show a refusal next to its row)."""

    conditions: dict[str, Any] | None
    exceptions: list[dict[str, Any]]
    rows: dict[str, str]


def build(rules: Rules, prefix: str = "trigger") -> Built:
    """The rules as the document writes them. Rows without a reference are left out, and
    so are groups left empty; a top-level group of one row is that row."""
    rows: dict[str, str] = {}
    conditions = _top(rules.conditions, "c", f"{prefix}.conditions", rows)
    exceptions: list[dict[str, Any]] = []
    for i, group in enumerate(rules.exceptions):
        made = _top(group, f"x.{i}", f"{prefix}.exceptions[{len(exceptions)}]", rows)
        if made is not None:
            exceptions.append(made)
    return Built(conditions, exceptions, rows)


def _top(group: Group, path: str, doc: str, rows: dict[str, str]) -> dict[str, Any] | None:
    made = _condition(group, path, doc, rows)
    if made is None:
        return None
    items = made[group.match]
    if len(items) == 1 and "var" in items[0]:
        rows[doc] = rows.pop(f"{doc}.{group.match}[0]")
        return dict(items[0])
    return made


def _condition(node: Node, path: str, doc: str, rows: dict[str, str]) -> dict[str, Any] | None:
    if isinstance(node, Leaf):
        leaf = _leaf(node, path)
        if leaf is not None:
            rows[doc] = path
        return leaf
    items: list[dict[str, Any]] = []
    for i, item in enumerate(node.items):
        made = _condition(item, f"{path}.{i}", f"{doc}.{node.match}[{len(items)}]", rows)
        if made is not None:
            items.append(made)
    return {node.match: items} if items else None


def _leaf(leaf: Leaf, path: str) -> dict[str, Any] | None:
    ref = leaf.var.strip()
    if not ref:
        return None
    made: dict[str, Any] = {"var": ref, "op": leaf.op}
    if leaf.op not in PRESENCE_OPS:
        made["value"] = _value(leaf, f"{path}.value")
    if leaf.ignore_case:
        made["ignore_case"] = True
    return made


def _value(leaf: Leaf, name: str) -> Any:
    """The row's value typed by its operator (or read as JSON when the row says so)."""
    text = leaf.value.strip()
    if leaf.as_json:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise FieldError(name, f"is not JSON: {exc}") from None
    if leaf.op in NUMBER_OPS:
        return _number(text, leaf.op, name)
    if leaf.op in LIST_OPS:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _number(text: str, op: str, name: str) -> int | float:
    if _INT.fullmatch(text) and abs(int(text)) < _INT_LIMIT:
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise FieldError(name, f"{op} needs a number, not {text!r}")
    return number


def row_field(rows: dict[str, str], problem: str) -> str:
    """The builder field a document path's problem is about (`trigger.conditions.all[1]
    .value` is `c.1.value`), or the path itself when no row made it."""
    node, _, part = problem.rpartition(".")
    if part in ("var", "op", "value", "ignore_case") and node in rows:
        return f"{rows[node]}.{'icase' if part == 'ignore_case' else part}"
    return problem


# --- a condition as the tree ------------------------------------------------------------


def rules_of(trigger: dict[str, Any]) -> Rules:
    """A checked trigger's conditions and exceptions as the builder shows them; empty
    conditions get one empty row to type in."""
    conditions = _as_group(trigger.get("conditions"))
    if not conditions.items:
        conditions.items.append(Leaf())
    return Rules(conditions, [_as_group(c) for c in trigger.get("exceptions", [])])


def _as_group(condition: dict[str, Any] | None) -> Group:
    if condition is None:
        return Group()
    node = _node(condition)
    return node if isinstance(node, Group) else Group("all", [node])


def _node(condition: dict[str, Any]) -> Node:
    for match in ("all", "any"):
        if match in condition:
            return Group(match, [_node(item) for item in condition[match]])
    op = str(condition["op"])
    text, as_json = _shown(op, condition["value"]) if "value" in condition else ("", False)
    return Leaf(str(condition["var"]), op, text, as_json, condition.get("ignore_case") is True)


def _shown(op: str, value: Any) -> tuple[str, bool]:
    """A value as the row's text, and whether that text is JSON: plain text whenever
    reading it back by the operator gives the same value."""
    if op in NUMBER_OPS and isinstance(value, int | float) and not isinstance(value, bool):
        return orjson.dumps(value).decode(), False
    if op in LIST_OPS and _listed(value):
        return ", ".join(value), False
    if op not in NUMBER_OPS and op not in LIST_OPS and _plain(value):
        return str(value), False
    return orjson.dumps(value).decode(), True


def _listed(value: Any) -> bool:
    """A list the comma-separated text gives back as it is."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(_plain(item) and item and "," not in item for item in value)
    )


def _plain(value: Any) -> bool:
    """A string a text field gives back as it is: stripped, without line breaks or other
    characters a browser may change."""
    return isinstance(value, str) and value == value.strip() and value.isprintable()


# --- the buttons ------------------------------------------------------------------------


def room(rules: Rules) -> int:
    """How many more fields the form can carry before read_form refuses it."""
    return (
        MAX_FORM_FIELDS
        - PAGE_FIELDS
        - _fields(rules.conditions)
        - sum(_fields(g) for g in rules.exceptions)
    )


def _fields(node: Node) -> int:
    if isinstance(node, Leaf):
        return 3 + node.as_json + node.ignore_case
    return 1 + sum(_fields(item) for item in node.items)


def apply_action(rules: Rules, action: str) -> bool:
    """Do a builder button's change (`row:PATH`, `group:PATH`, `remove:PATH`,
    `exception`) to `rules`; False when `action` is no builder button."""
    verb, _, target = action.partition(":")
    if verb == "exception":
        if len(rules.exceptions) >= MAX_EXCEPTIONS or room(rules) < ROW_FIELDS + 1:
            raise FieldError("action", f"a trigger has at most {MAX_EXCEPTIONS} exceptions "
                             "the form can carry")  # fmt: skip
        rules.exceptions.append(Group("all", [Leaf()]))
        return True
    if verb not in ("row", "group", "remove"):
        return False
    key = _key(target, "action")
    if verb == "remove":
        _remove(rules, key)
        return True
    group = _node_at(rules, key)
    if not isinstance(group, Group):
        raise FieldError("action", f"{target} is a row, not a group")
    _add(group, verb, key, room(rules))
    return True


def _add(group: Group, verb: str, key: Key, left: int) -> None:
    if len(group.items) >= MAX_ITEMS or left < ROW_FIELDS + (verb == "group"):
        raise FieldError("action", "the form holds no more conditions")
    if verb == "row":
        group.items.append(Leaf())
    elif len(key[1]) + 1 >= MAX_DEPTH:
        raise FieldError("action", f"groups nest at most {MAX_DEPTH} levels")
    else:
        group.items.append(Group("all", [Leaf()]))


def _node_at(rules: Rules, key: Key) -> Node:
    root, indexes = key
    node: Node
    if root == "c":
        node = rules.conditions
    elif int(root[2:]) < len(rules.exceptions):
        node = rules.exceptions[int(root[2:])]
    else:
        raise FieldError("action", f"there is no exception {root}")
    for index in indexes:
        if not isinstance(node, Group) or index >= len(node.items):
            raise FieldError("action", f"there is no {_name(key)}")
        node = node.items[index]
    return node


def _remove(rules: Rules, key: Key) -> None:
    root, indexes = key
    if not indexes:
        if root == "c":
            raise FieldError("action", "the conditions group stays (remove its rows)")
        _node_at(rules, key)
        del rules.exceptions[int(root[2:])]
        return
    parent = _node_at(rules, (root, indexes[:-1]))
    if not isinstance(parent, Group) or indexes[-1] >= len(parent.items):
        raise FieldError("action", f"there is no {_name(key)}")
    del parent.items[indexes[-1]]
