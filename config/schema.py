"""The container document: what a valid one looks like, and how to read one from a file.

`validate_document` reports every problem at once, each with a path into the document
(`tags[2].firing_triggers[0]`) and a reason the author can act on, because fixing one error
per run is slow and a partly-valid container must never reach a node. It accepts any value
(hostile input included) and never raises. `parse_document` and `load_document` add reading
and parsing on top and raise `DocumentError` with the same kind of issues.

The user-facing description of every field is docs/container-document.md; keep both in step.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from collections.abc import Callable, Collection
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml as pyyaml  # aliased: parse_document has a keyword argument called `yaml`

from config.currencies import ISO_4217
from config.errors import DocumentError, Issue
from tags.package import SHIPPED, TemplatePackage, package_from_metadata, shipped_template
from tags.params import resolve_params
from triggers.trigger import check_trigger_rules
from variables.param_refs import find_refs, referencing
from variables.pii_firewall import POLICIES
from variables.references import reference_problem
from variables.user_defined import check_variable, variable_inputs

__all__ = [
    "DocumentError",
    "Issue",
    "apply_defaults",
    "load_document",
    "parse_document",
    "template_package",
    "validate_document",
]

_T = TypeVar("_T")
# A field check: (value, path of the value, issues to append to).
_Check = Callable[[object, str, list[Issue]], None]

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ID_RULE = "must be 1-64 characters (a-z, 0-9, '_', '-') starting with a letter or digit"
_MAX_NAME = 200
_MAX_HOSTNAME = 253
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_EVENT = re.compile(r"[a-z0-9_]{1,40}")
_EVENT_PREFIX = re.compile(r"[a-z0-9_]{1,39}\*")
_ORIGIN = re.compile(r"(https?)://([^/?#:\[\]@]+|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?")
_ORIGIN_RULE = (
    "must be an origin like 'https://www.example.com': http or https, a host and an "
    "optional port, with no path, query, fragment or trailing slash"
)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_GCM_TYPES = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
_TCF_PURPOSES = range(1, 12)
_CONSENT_POLICIES = ("strict", "basic")
_FIRE_ONCE = ("none", "event_id", "transaction_id", "lead_id")
# A GA4 web stream's measurement id, as the ga4 template takes it
_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]{4,20}")
_SECRET_NAME_ISSUE = "must name a secret: 1-64 characters of a-z, 0-9, '_', '-'"  # noqa: S105 (a rule, not a password)


# --- Small helpers ------------------------------------------------------------------------


def _show(value: object) -> str:
    """Quote a value for a reason: escaped, and cut short so hostile input cannot flood the
    output or the terminal. Callers pass strings or small, already-checked integers."""
    if isinstance(value, str) and len(value) > 60:
        value = value[:57] + "..."
    return repr(value)


def _key_path(path: str, key: str) -> str:
    """Path of an object member; keys that would make the path ambiguous are quoted."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{_show(key)}]"
    return f"{path}.{key}" if path else key


def _dict(value: object, path: str, out: list[Issue]) -> dict[str, object] | None:
    """Check that `value` is an object whose keys are all strings (only YAML can break the
    latter). Returns it, or None when it is not an object at all. A key that is not a
    string is reported here; the checks after this look fields up by name, so they never
    meet one, and the object is typed by its string keys."""
    if not isinstance(value, dict):
        out.append(Issue(path or "$", "must be an object"))
        return None
    for key in value:
        if not isinstance(key, str):
            out.append(Issue(path or "$", f"field names must be strings, not {type(key).__name__}"))
    return value


def _object(
    value: object, path: str, out: list[Issue], fields: Collection[str], required: Collection[str]
) -> dict[str, object] | None:
    """Check that `value` is an object with only known fields and all required ones.
    Returns it for the field checks, or None when it is not an object at all."""
    obj = _dict(value, path, out)
    if obj is None:
        return None
    for key in obj:
        if isinstance(key, str) and key not in fields:
            out.append(Issue(_key_path(path, key), f"unknown field {_show(key)}"))
    for key in required:
        if key not in obj:
            out.append(Issue(_key_path(path, key), "required field is missing"))
    return obj


def _check_fields(
    obj: dict[str, object], path: str, checks: dict[str, _Check], out: list[Issue]
) -> None:
    """Run the check of every field that is present; absent ones were handled by `_object`."""
    for field, check in checks.items():
        if field in obj:
            check(obj[field], _key_path(path, field), out)


def _check_record(
    value: object, path: str, out: list[Issue], checks: dict[str, _Check], required: Collection[str]
) -> None:
    """An object whose fields are all checked without outside context."""
    obj = _object(value, path, out, checks, required)
    if obj is not None:
        _check_fields(obj, path, checks, out)


def _string(value: object, path: str, out: list[Issue]) -> str | None:
    if isinstance(value, str):
        return value
    out.append(Issue(path, "must be a string"))
    return None


def _list(
    value: object, path: str, out: list[Issue], *, non_empty: bool = False
) -> list[object] | None:
    if not isinstance(value, list):
        out.append(Issue(path, "must be a list"))
        return None
    if non_empty and not value:
        out.append(Issue(path, "must not be empty"))
    return value


def _each_unique(
    items: list[object],
    path: str,
    out: list[Issue],
    item: Callable[[object, str, list[Issue]], _T | None],
    what: str,
) -> dict[_T, int]:
    """Check every list item with `item` (which returns the usable value or None) and flag
    repeats, which are always a typo or a bad merge. Returns each value's first index."""
    first: dict[_T, int] = {}
    for index, raw in enumerate(items):
        item_path = f"{path}[{index}]"
        value = item(raw, item_path, out)
        if value is None:
            continue
        if value in first:
            out.append(Issue(item_path, f"duplicate {what} {_show(value)}"))
        else:
            first[value] = index
    return first


def _is_hostname(host: str) -> bool:
    return len(host) <= _MAX_HOSTNAME and _HOSTNAME.fullmatch(host) is not None


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _check_pattern(
    value: object, path: str, out: list[Issue], *, pattern: re.Pattern[str], rule: str
) -> None:
    text = _string(value, path, out)
    if text is not None and not pattern.fullmatch(text):
        out.append(Issue(path, rule))


def _check_choice(value: object, path: str, out: list[Issue], *, choices: tuple[str, ...]) -> None:
    if not (isinstance(value, str) and value in choices):
        out.append(Issue(path, "must be one of " + ", ".join(map(repr, choices))))


def _check_bool(value: object, path: str, out: list[Issue]) -> None:
    if not isinstance(value, bool):
        out.append(Issue(path, "must be true or false"))


def _check_name(value: object, path: str, out: list[Issue]) -> None:
    text = _string(value, path, out)
    if text is None:
        return
    if not text.strip():
        out.append(Issue(path, "must not be empty"))
    elif len(text) > _MAX_NAME:
        out.append(Issue(path, f"must be at most {_MAX_NAME} characters"))


_check_id = partial(_check_pattern, pattern=_ID, rule=_ID_RULE)


def _check_domain(value: object, path: str, out: list[Issue]) -> None:
    text = _string(value, path, out)
    if text is not None and not _is_hostname(text):
        out.append(Issue(path, "must be a lower-case host name like 'www.example.com'"))


def _origin_problem(origin: str) -> str | None:
    """Why `origin` can never equal a browser's Origin header, or None. Browsers send scheme
    and host in lower case and leave out the default port, so the check is exact."""
    if origin == "*":
        return (
            "'*' is not allowed: the collector answers with credentials (its first-party "
            "cookie) and browsers refuse those for a wildcard origin; list each origin instead"
        )
    if origin != origin.lower():
        return "must be in lower case, as browsers send it"
    match = _ORIGIN.fullmatch(origin)
    if match is None:
        return _ORIGIN_RULE
    scheme, host, port = match.groups()
    if not (_is_hostname(host) or (host.startswith("[") and _is_ipv6(host[1:-1]))):
        return f"host {_show(host)} is not a valid host name or IP address"
    if port is not None and int(port) > 65535:
        return "port must be between 1 and 65535"
    if port is not None and int(port) == _DEFAULT_PORTS[scheme]:
        return f"leave out the default port {port}: browsers never send it"
    return None


def _origin(value: object, path: str, out: list[Issue]) -> str | None:
    origin = _string(value, path, out)
    if origin is None:
        return None
    problem = _origin_problem(origin)
    if problem is not None:
        out.append(Issue(path, problem))
        return None
    return origin


def _check_origins(value: object, path: str, out: list[Issue]) -> None:
    origins = _list(value, path, out)
    if origins is not None:
        _each_unique(origins, path, out, _origin, "origin")


def _check_currency(value: object, path: str, out: list[Issue]) -> None:
    code = _string(value, path, out)
    if code is None:
        return
    if not _CURRENCY.fullmatch(code):
        out.append(Issue(path, "must be an ISO 4217 code: three upper-case letters like 'EUR'"))
    elif code not in ISO_4217:
        out.append(Issue(path, f"{_show(code)} is not an active ISO 4217 currency code"))


def _measurement_id(value: object, path: str, out: list[Issue]) -> str | None:
    text = _string(value, path, out)
    if text is None or _MEASUREMENT_ID.fullmatch(text):
        return text
    out.append(Issue(path, "must be a GA4 measurement id like 'G-ABC123XYZ' (G-, then 4-20 "
                     "upper-case letters or digits)"))  # fmt: skip
    return None


def _check_measurement_ids(value: object, path: str, out: list[Issue]) -> None:
    ids = _list(value, path, out, non_empty=True)
    if ids is not None:
        _each_unique(ids, path, out, _measurement_id, "measurement id")


_GTAG_CHECKS: dict[str, _Check] = {
    "measurement_ids": _check_measurement_ids,
    "mp_api_secret": partial(_check_pattern, pattern=_ID, rule=_SECRET_NAME_ISSUE),
}
# Which GA4 streams the container takes from gtag.js and the Measurement Protocol
_check_gtag = partial(_check_record, checks=_GTAG_CHECKS, required=("measurement_ids",))


def _event(value: object, path: str, out: list[Issue]) -> str | None:
    event = _string(value, path, out)
    if event is None:
        return None
    if event == "*" or _EVENT.fullmatch(event) or _EVENT_PREFIX.fullmatch(event):
        return event
    out.append(
        Issue(
            path,
            "must be '*', an event name of 1-40 characters (a-z, 0-9, '_') "
            "or a prefix ending in '*' like 'purchase_*'",
        )
    )
    return None


def _check_events(value: object, path: str, out: list[Issue]) -> None:
    events = _list(value, path, out, non_empty=True)
    if events is not None:
        _each_unique(events, path, out, _event, "event")


def _gcm_type(value: object, path: str, out: list[Issue]) -> str | None:
    name = _string(value, path, out)
    if name is None or name in _GCM_TYPES:
        return name
    out.append(Issue(path, f"unknown consent type {_show(name)}; known: {', '.join(_GCM_TYPES)}"))
    return None


def _purpose(value: object, path: str, out: list[Issue]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value in _TCF_PURPOSES:
        return value
    out.append(Issue(path, "must be an IAB TCF purpose: an integer from 1 to 11"))
    return None


def _check_gcm(value: object, path: str, out: list[Issue]) -> None:
    types = _list(value, path, out)
    if types is not None:
        _each_unique(types, path, out, _gcm_type, "consent type")


def _check_purposes(value: object, path: str, out: list[Issue]) -> None:
    purposes = _list(value, path, out)
    if purposes is not None:
        _each_unique(purposes, path, out, _purpose, "purpose")


def _check_vendor_id(value: object, path: str, out: list[Issue]) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        out.append(Issue(path, "must be an IAB vendor id: a whole number from 1 to 65535"))


_CONSENT_CHECKS: dict[str, _Check] = {
    "gcm": _check_gcm,
    "purposes": _check_purposes,
    "vendor_id": _check_vendor_id,
}
_check_consent = partial(_check_record, checks=_CONSENT_CHECKS, required=())


# --- Templates ------------------------------------------------------------------------------


def _check_templates(
    value: object, out: list[Issue]
) -> dict[str, TemplatePackage | None] | None:
    """Templates defined in the document, by id, for the tags to use; a template with
    problems maps to None so its tags are not also told it is unknown."""
    templates = _list(value, "templates", out)
    if templates is None:
        return None
    found: dict[str, TemplatePackage | None] = {}
    first_at: dict[str, str] = {}
    for index, item in enumerate(templates):
        path = f"templates[{index}]"
        if not isinstance(item, dict):
            out.append(Issue(path, "must be an object"))
            continue
        ident = item.get("id")
        if not isinstance(ident, str) or not _ID.fullmatch(ident):
            out.append(Issue(f"{path}.id", _ID_RULE))
            continue
        if ident in SHIPPED:
            out.append(Issue(f"{path}.id", f"{_show(ident)} is a shipped template's name"))
            continue
        _note_id(item, path, first_at, out)
        meta = {k: v for k, v in item.items() if k not in ("id", "lua")}
        meta.setdefault("name", ident)
        package, problems = package_from_metadata(meta, item.get("lua"))
        out.extend(Issue(f"{path}.{at}" if at else path, reason) for at, reason in problems)
        found.setdefault(ident, package)
    return found


def _template_for(
    name: str, documented: dict[str, TemplatePackage | None] | None
) -> TemplatePackage | None:
    if documented and name in documented:
        return documented[name]
    return shipped_template(name) if name in SHIPPED else None


# --- Container, triggers, tags ------------------------------------------------------------

_CONTAINER_CHECKS: dict[str, _Check] = {
    "id": _check_id,
    "name": _check_name,
    "domain": _check_domain,
    "allowed_origins": _check_origins,
    "default_country": partial(
        _check_pattern,
        pattern=_COUNTRY,
        rule="must be an ISO 3166-1 alpha-2 country code: two upper-case letters like 'DE'",
    ),
    "consent_policy": partial(_check_choice, choices=_CONSENT_POLICIES),
    "currency_default": _check_currency,
    "pii_policy": partial(_check_choice, choices=POLICIES),
    "gtag": _check_gtag,
}
_TRIGGER_CHECKS: dict[str, _Check] = {"id": _check_id, "name": _check_name, "events": _check_events}
_TRIGGER_FIELDS = (*_TRIGGER_CHECKS, "conditions", "exceptions")
_TRIGGER_REQUIRED = ("id", "name", "events")
_VARIABLE_FIELDS = ("id", "name", "type", "params")
# Checked here without context; template, params and the trigger lists are checked in _check_tag.
_TAG_CHECKS: dict[str, _Check] = {
    "id": _check_id,
    "name": _check_name,
    "consent": _check_consent,
    "fire_once": partial(_check_choice, choices=_FIRE_ONCE),
    "enabled": _check_bool,
}
_TAG_FIELDS = (*_TAG_CHECKS, "template", "params", "firing_triggers", "blocking_triggers")
_TAG_REQUIRED = ("id", "name", "template", "params", "firing_triggers")
_TOP_FIELDS = ("container", "variables", "triggers", "templates", "tags")
_TOP_REQUIRED = ("container", "triggers", "tags")


def _note_id(
    entry: dict[str, object], path: str, first_at: dict[str, str], out: list[Issue]
) -> None:
    """Remember the entry's id and flag it if an earlier entry already used it."""
    ident = entry.get("id")
    if not isinstance(ident, str):
        return
    if ident in first_at:
        out.append(Issue(f"{path}.id", f"duplicate id {_show(ident)} (first at {first_at[ident]})"))
    else:
        first_at[ident] = path


def _check_triggers(value: object, variable_ids: set[str], out: list[Issue]) -> set[str] | None:
    """Check the triggers; returns their ids for the tags to reference (None when the list
    itself is unusable, so tags are not flooded with 'unknown trigger' issues)."""
    triggers = _list(value, "triggers", out)
    if triggers is None:
        return None
    first_at: dict[str, str] = {}
    for index, item in enumerate(triggers):
        path = f"triggers[{index}]"
        trigger = _object(item, path, out, _TRIGGER_FIELDS, _TRIGGER_REQUIRED)
        if trigger is not None:
            _check_fields(trigger, path, _TRIGGER_CHECKS, out)
            out.extend(Issue(p, r) for p, r in check_trigger_rules(trigger, path, variable_ids))
            _note_id(trigger, path, first_at, out)
    return set(first_at)


def _trigger_refs(
    value: object, path: str, trigger_ids: set[str] | None, out: list[Issue], *, non_empty: bool
) -> dict[str, int]:
    """A tag's list of trigger ids; returns each id's index."""
    refs = _list(value, path, out, non_empty=non_empty)
    if refs is None:
        return {}

    def known(item: object, item_path: str, out: list[Issue]) -> str | None:
        ref = _string(item, item_path, out)
        if ref is not None and trigger_ids is not None and ref not in trigger_ids:
            out.append(Issue(item_path, f"unknown trigger {_show(ref)}"))
        return ref

    return _each_unique(refs, path, out, known, "trigger")


def _check_tag(
    tag: dict[str, object],
    path: str,
    trigger_ids: set[str] | None,
    templates: dict[str, TemplatePackage | None] | None,
    variable_ids: set[str],
    out: list[Issue],
) -> None:
    """The fields of one tag that need context: its template decides what `params` may
    hold, references in them must name values, and its trigger lists must name existing
    triggers."""
    template = _string(tag["template"], f"{path}.template", out) if "template" in tag else None
    if template is not None:
        package = _template_for(template, templates)
        if package is None and templates is not None and template in templates:
            pass  # the template itself has problems, reported at templates[...]
        elif package is None:
            if templates is not None:  # otherwise the templates list itself was broken
                known = ", ".join(sorted([*SHIPPED, *templates]))
                out.append(
                    Issue(f"{path}.template", f"unknown template {_show(template)}; known: {known}")
                )
        elif "params" in tag:
            params = tag["params"]
            for at, ref in find_refs(params):
                problem = reference_problem(ref, variable_ids)
                if problem:
                    out.append(Issue(f"{path}.params.{at}", f"{{{{{ref}}}}}: {problem}"))
            _, problems = resolve_params(package.params_schema, params, referencing(params))
            for name, reason in problems:
                out.append(Issue(f"{path}.params.{name}" if name else f"{path}.params", reason))
    firing: dict[str, int] = {}
    if "firing_triggers" in tag:
        firing_path = f"{path}.firing_triggers"
        firing = _trigger_refs(
            tag["firing_triggers"], firing_path, trigger_ids, out, non_empty=True
        )
    if "blocking_triggers" in tag:
        blocking_path = f"{path}.blocking_triggers"
        blocking = _trigger_refs(
            tag["blocking_triggers"], blocking_path, trigger_ids, out, non_empty=False
        )
        for ref, index in blocking.items():
            if ref in firing:
                out.append(
                    Issue(
                        f"{blocking_path}[{index}]",
                        f"trigger {_show(ref)} is also in firing_triggers; a tag cannot be "
                        "fired and blocked by the same trigger",
                    )
                )


def _check_tags(
    value: object,
    trigger_ids: set[str] | None,
    templates: dict[str, TemplatePackage | None] | None,
    variable_ids: set[str],
    out: list[Issue],
) -> None:
    tags = _list(value, "tags", out)
    if tags is None:
        return
    first_at: dict[str, str] = {}
    for index, item in enumerate(tags):
        path = f"tags[{index}]"
        tag = _object(item, path, out, _TAG_FIELDS, _TAG_REQUIRED)
        if tag is not None:
            _check_fields(tag, path, _TAG_CHECKS, out)
            _check_tag(tag, path, trigger_ids, templates, variable_ids, out)
            _note_id(tag, path, first_at, out)


def _check_variables(value: object, out: list[Issue]) -> set[str]:
    """Check user-defined variables; returns their ids (references to a broken variable
    still resolve as known, so one mistake is reported once)."""
    variables = _list(value, "variables", out)
    if variables is None:
        return set()
    entries = [(i, v) for i, v in enumerate(variables) if isinstance(v, dict)]
    ids = {v["id"] for _, v in entries if isinstance(v.get("id"), str)}
    first_at: dict[str, str] = {}
    inputs: dict[str, list[str]] = {}
    for index, item in enumerate(variables):
        path = f"variables[{index}]"
        variable = _object(item, path, out, _VARIABLE_FIELDS, ("id", "name", "type"))
        if variable is None:
            continue
        _check_fields(variable, path, {"id": _check_id, "name": _check_name}, out)
        _note_id(variable, path, first_at, out)
        kind, params = variable.get("type"), variable.get("params", {})
        problems = check_variable(kind, params, ids)
        out.extend(Issue(f"{path}.{at}", reason) for at, reason in problems)
        # No problems means a known type (a string) with params (an object).
        ident = variable.get("id")
        if (
            not problems
            and isinstance(ident, str)
            and isinstance(kind, str)
            and isinstance(params, dict)
        ):
            inputs[ident] = variable_inputs(kind, params)
    for ident, path in first_at.items():
        cycle = _cycle(ident, inputs)
        if cycle:
            out.append(Issue(f"{path}.params.input", "variables refer to each other in a "
                             "circle: " + " -> ".join(cycle)))  # fmt: skip
    return ids


def _cycle(start: str, inputs: dict[str, list[str]]) -> list[str] | None:
    """The chain of var. references from `start` back to itself, if there is one."""
    chain = [start]
    current = start
    while True:
        refs = [
            ref.removeprefix("var.") for ref in inputs.get(current, []) if ref.startswith("var.")
        ]
        if not refs:
            return None
        current = refs[0]
        if current == start:
            return [*chain, current]
        if current in chain:
            return None  # a circle that does not pass through start: reported at its members
        chain.append(current)


# --- Public API ---------------------------------------------------------------------------


def validate_document(doc: object) -> list[Issue]:
    """Every problem in `doc`, in document order; an empty list means it is valid.

    Never raises, whatever `doc` is: it only reads the parts the schema defines.
    """
    out: list[Issue] = []
    if not isinstance(doc, dict):
        out.append(Issue("$", "must be an object with 'container', 'triggers' and 'tags'"))
        return out
    _object(doc, "", out, _TOP_FIELDS, _TOP_REQUIRED)
    if "container" in doc:
        _check_record(doc["container"], "container", out, _CONTAINER_CHECKS, ("id", "name"))
    variable_ids = _check_variables(doc["variables"], out) if "variables" in doc else set()
    trigger_ids = _check_triggers(doc["triggers"], variable_ids, out) if "triggers" in doc else None
    templates = _check_templates(doc["templates"], out) if "templates" in doc else {}
    if "tags" in doc:
        _check_tags(doc["tags"], trigger_ids, templates, variable_ids, out)
    return out


def apply_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a valid document with every optional field filled in, so the code that
    compiles and runs a container reads one shape and never guesses a default itself."""
    result = copy.deepcopy(doc)
    result.setdefault("variables", [])
    result.setdefault("templates", [])
    container = result["container"]
    container.setdefault("allowed_origins", [])
    container.setdefault("consent_policy", "strict")
    container.setdefault("pii_policy", "remove")
    for tag in result["tags"]:
        tag.setdefault("blocking_triggers", [])
        consent = tag.setdefault("consent", {})
        consent.setdefault("gcm", [])
        consent.setdefault("purposes", [])
        tag.setdefault("fire_once", "event_id")
        tag.setdefault("enabled", True)
        package = template_package(result, tag["template"])
        params = tag["params"]
        tag["params"], _ = resolve_params(package.params_schema, params, referencing(params))
    return result


def template_package(doc: dict[str, Any], name: str) -> TemplatePackage:
    """The template a tag of a valid document names: defined in the document, or shipped."""
    for item in doc.get("templates", []):
        if item["id"] == name:
            meta = {k: v for k, v in item.items() if k not in ("id", "lua")}
            meta.setdefault("name", name)
            package, _ = package_from_metadata(meta, item["lua"])
            if package is not None:
                return package
    return shipped_template(name)


def _position(line: int, column: int) -> str:
    return f"line {line}, column {column}"


def _parse(text: str, *, yaml: bool) -> object:
    """Parse JSON or YAML; raises ValueError with a one-line reason that includes the
    position whenever the parser knows it."""
    if not yaml:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(
                f"not valid JSON at {_position(exc.lineno, exc.colno)}: {exc.msg}"
            ) from None
    try:
        return pyyaml.safe_load(text)
    except pyyaml.MarkedYAMLError as exc:
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        mark = exc.problem_mark or exc.context_mark
        where = f" at {_position(mark.line + 1, mark.column + 1)}" if mark else ""
        raise ValueError(f"not valid YAML{where}: {what}") from None
    except pyyaml.YAMLError as exc:
        raise ValueError("not valid YAML: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise ValueError("not valid YAML: nested too deeply") from None
    except Exception as exc:
        # PyYAML's constructors leak plain Python errors on malformed values: `!!int` with no
        # digits raises IndexError, an integer too long to convert raises ValueError.
        raise ValueError(f"not valid YAML: a value cannot be read ({exc})") from None


def parse_document(text: bytes | str, source: str, *, yaml: bool = False) -> dict[str, Any]:
    """Parse and validate a document given as text (JSON, or YAML when `yaml` is true).

    Raises DocumentError naming `source` when the bytes are not UTF-8, the text does not
    parse, or the document is invalid. A UTF-8 byte order mark is accepted, since some
    editors write one.
    """
    if isinstance(text, bytes):
        data = text.removeprefix(b"\xef\xbb\xbf")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            where = f"{_position(line, column)} (byte {exc.start})"
            raise DocumentError([Issue("$", f"not valid UTF-8 at {where}")], source) from None
    try:
        doc = _parse(text.removeprefix("\ufeff"), yaml=yaml)
    except ValueError as exc:
        raise DocumentError([Issue("$", str(exc))], source) from None
    issues = validate_document(doc)
    if issues:
        raise DocumentError(issues, source)
    assert isinstance(doc, dict)
    return doc


def load_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read, parse and validate a `.json`, `.yaml` or `.yml` file; raises DocumentError."""
    file = Path(path)
    source = os.fspath(path)
    suffix = file.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise DocumentError([Issue("$", "file name must end in .json, .yaml or .yml")], source)
    try:
        data = file.read_bytes()
    except OSError as exc:
        reason = f"cannot read file: {exc.strerror or exc}"
        raise DocumentError([Issue("$", reason)], source) from None
    return parse_document(data, source, yaml=suffix != ".json")
