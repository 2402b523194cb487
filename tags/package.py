"""Template packages: Lua source plus metadata (parameters, permissions, limits, tests).

On disk a package is a folder holding `template.lua` and `template.json`; a lone `.lua`
file is a package with no parameters and no permissions. Inside a container document a
template carries the same metadata with its source in `lua`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import orjson

from tags.errors import TemplateError
from tags.limits import Limits, limits_from_manifest
from tags.manifest import Manifest, manifest_param_problems, parse_manifest
from tags.params import check_schema
from variables.hit import CONSENT_SIGNALS

__all__ = [
    "MAX_SOURCE_BYTES",
    "SHIPPED",
    "TemplatePackage",
    "load_package",
    "package_from_metadata",
    "shipped_template",
]

MAX_SOURCE_BYTES = 64 * 1024
SHIPPED = ("meta", "tiktok", "linkedin", "google_ads", "ga4", "webhook")
_META_KEYS = frozenset(
    {"name", "version", "description", "params", "permissions", "limits", "consent", "tests"}
)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
Problems = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class TemplatePackage:
    name: str
    version: str
    description: str
    source: str
    params_schema: dict[str, Any]
    manifest: Manifest
    limits: Limits
    tests: list[dict[str, Any]] = field(default_factory=list)
    # Consent Mode signals every tag of this template needs, whatever the tag declares:
    # an ad platform's template cannot be configured to fire without ad consent.
    consent: tuple[str, ...] = ()

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


def package_from_metadata(meta: object, source: object) -> tuple[TemplatePackage | None, Problems]:
    """Build a package from metadata and source, or say everything wrong with them."""
    if not isinstance(meta, dict):
        return None, [("", "template metadata must be an object")]
    problems: Problems = sorted((str(key), "unknown field") for key in meta.keys() - _META_KEYS)
    name = meta.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(("name", "must be 1-64 characters of a-z, 0-9, '_', '-'"))
    version = meta.get("version", "0.0.0")
    if not isinstance(version, str) or not version or len(version) > 32:
        problems.append(("version", "must be a short string such as '1.2.0'"))
    description = meta.get("description", "")
    if not isinstance(description, str):
        problems.append(("description", "must be a string"))
    if not isinstance(source, str):
        problems.append(("lua", "must be the template's Lua source as a string"))
    elif len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        problems.append(("lua", f"source larger than {MAX_SOURCE_BYTES} bytes"))
    elif source.startswith("\x1b"):
        problems.append(("lua", "precompiled Lua bytecode is not accepted; send source text"))
    schema = meta.get("params", {})
    problems += [(f"params.{p}".rstrip("."), r) for p, r in check_schema(schema)]
    manifest, manifest_problems = parse_manifest(meta.get("permissions"), meta.get("limits"))
    problems += manifest_problems
    if isinstance(schema, dict):
        problems += manifest_param_problems(manifest, schema)
    tests = meta.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        problems.append(("tests", "must be a list of test objects"))
    consent = _consent(meta.get("consent", {}), problems)
    if problems or not isinstance(name, str) or not isinstance(source, str):
        return None, problems
    return TemplatePackage(
        name=name,
        version=version,
        description=description,
        source=source,
        params_schema=schema,
        manifest=manifest,
        limits=limits_from_manifest(dict(manifest.limits)),
        tests=tests,
        consent=consent,
    ), []


def _consent(value: object, problems: Problems) -> tuple[str, ...]:
    """`{"gcm": [...]}`: the Consent Mode signals the template always needs."""
    if not isinstance(value, dict) or not set(value) <= {"gcm"}:
        problems.append(("consent", 'must be an object {"gcm": [signals]}'))
        return ()
    signals = value.get("gcm", [])
    if not isinstance(signals, list) or not all(s in CONSENT_SIGNALS for s in signals):
        problems.append(("consent.gcm", f"must be a list of {', '.join(CONSENT_SIGNALS)}"))
        return ()
    return tuple(dict.fromkeys(signals))


def _raise(problems: Problems, origin: str) -> NoReturn:
    details = "; ".join(f"{path}: {reason}" if path else reason for path, reason in problems)
    raise TemplateError("params" if all(p.startswith("params") for p, _ in problems) else "syntax",
                        f"{origin}: {details}")  # fmt: skip


def load_package(path: str | Path) -> TemplatePackage:
    """A package from a folder (template.lua + template.json) or a single .lua file."""
    path = Path(path)
    try:
        if path.is_dir():
            source = (path / "template.lua").read_text(encoding="utf-8")
            meta = orjson.loads((path / "template.json").read_bytes())
        elif path.suffix == ".lua":
            source = path.read_text(encoding="utf-8")
            meta = {"name": re.sub(r"[^a-z0-9_-]", "_", path.stem.lower())[:64] or "template"}
        else:
            raise TemplateError("syntax", f"{path}: expected a template folder or a .lua file")
    except OSError as exc:
        raise TemplateError("syntax", f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TemplateError("syntax", f"{path}: not UTF-8 text") from None
    except orjson.JSONDecodeError as exc:
        raise TemplateError("syntax", f"{path / 'template.json'}: invalid JSON: {exc}") from None
    package, problems = package_from_metadata(meta, source)
    if package is None:
        _raise(problems, str(path))
    return package


def shipped_template(name: str) -> TemplatePackage:
    """A template that ships with tagwire (see `SHIPPED`)."""
    if name not in SHIPPED:
        raise TemplateError("syntax", f"no shipped template named {name!r}")
    folder = resources.files("tags").joinpath("templates", name)
    return load_package(Path(str(folder)))
