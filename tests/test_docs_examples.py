"""Examples the docs show must keep working: the template example in
docs/writing-templates.md passes its own tests, and every container document the README
and the docs name validates."""

import json
import re
from pathlib import Path

import yaml

from tags.package import package_from_metadata
from tags.testing import run_tests
from tests.helpers import isolate_settings, run_cli

DOC = Path(__file__).parents[1] / "docs" / "writing-templates.md"


def test_first_template_example_passes_its_tests():
    blocks = re.findall(r"```(lua|json)\n(.*?)```", DOC.read_text(), re.S)
    source = next(body for kind, body in blocks if kind == "lua")
    meta = json.loads(next(body for kind, body in blocks if kind == "json" and '"tests"' in body))
    package, problems = package_from_metadata(meta, source)
    assert problems == []
    outcomes = run_tests(package)
    assert outcomes
    assert all(o.passed for o in outcomes), [o.diff for o in outcomes]


ROOT = Path(__file__).parents[1]
# A file path in backticks or a link: `demo/container.json`, (../examples/container.json)
NAMED_FILE = re.compile(r"[`(]([\w./-]+\.(?:json|ya?ml))[`)]")


def named_container_documents() -> list[Path]:
    """Every existing JSON or YAML file the README and the docs name whose top level has a
    `container` object: the container documents a reader is told to look at."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found: set[Path] = set()
    for page in pages:
        for name in NAMED_FILE.findall(page.read_text(encoding="utf-8")):
            for path in (ROOT / name, (page.parent / name)):
                path = path.resolve()
                if path.is_file() and ROOT in path.parents and _is_container(path):
                    found.add(path)
    return sorted(found)


def _is_container(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return isinstance(doc, dict) and isinstance(doc.get("container"), dict)


def test_docs_name_the_demo_and_example_containers():
    names = {path.relative_to(ROOT).as_posix() for path in named_container_documents()}
    assert {"demo/container.json", "examples/container.json"} <= names


def test_every_container_document_the_docs_name_validates(capsys, monkeypatch, tmp_path):
    isolate_settings(monkeypatch, tmp_path)
    paths = [str(path) for path in named_container_documents()]
    code, out, err = run_cli(capsys, "validate", *paths)
    assert (code, err) == (0, ""), err
    assert out.count(": valid (container ") == len(paths), out


GA4_SERVER_ONLY = re.compile(r"GA4[^.;]*?server\s+call\s+only")


def test_the_pages_that_walk_through_the_demo_say_ga4_gets_the_server_call_only():
    """GA4 does not deduplicate its two copies, so its browser copy is off by default and
    the demo leaves it off; the README and the docs must not promise both."""
    template = json.loads((ROOT / "tags" / "templates" / "ga4" / "template.json").read_text())
    assert template["params"]["send_browser"]["default"] is False
    demo = json.loads((ROOT / "demo" / "container.json").read_text())
    [ga4] = [tag for tag in demo["tags"] if tag["template"] == "ga4"]
    assert "send_browser" not in ga4["params"]
    for page in ("README.md", "docs/index.md", "docs/getting-started.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert GA4_SERVER_ONLY.search(text), f"{page} does not say GA4 gets the server call only"
