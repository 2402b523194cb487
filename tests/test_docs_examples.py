"""The template example in docs/writing-templates.md must keep passing its own tests."""

import json
import re
from pathlib import Path

from tags.package import package_from_metadata
from tags.testing import run_tests

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
