"""The instructions a `/collect` hit costs stay within the budgets recorded in the repo.

bench/cost.py counts them with callgrind (deterministic, unlike wall-clock time) for the
durable-ack pipeline and the demo pipeline; a cost more than the recorded margin over its
budget fails here. A change that makes hits dearer records the new budgets in the same
commit (`python bench/cost.py --record "why"`), the reason in the commit message. See
docs/cost-check.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]


def _load_cost() -> Any:
    spec = importlib.util.spec_from_file_location("bench_cost", ROOT / "bench" / "cost.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cost = _load_cost()
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def test_budget_file_names_both_pipelines_a_margin_and_a_reason() -> None:
    budget = cost.load_budget()
    assert budget["why"].strip()
    assert 0 < budget["margin"] <= 0.1
    assert set(budget["pipelines"]) == set(cost.PIPELINES)
    for entry in budget["pipelines"].values():
        assert isinstance(entry["instructions_per_hit"], int)
        assert entry["instructions_per_hit"] > 100_000
    assert budget["environment"]["python"]


def test_a_cost_over_its_budget_by_more_than_the_margin_fails() -> None:
    budget = {"margin": 0.02, "pipelines": {"durable": {"instructions_per_hit": 1_000_000}}}
    assert cost.over_budget({"durable": 1_020_000.0}, budget) == []
    assert cost.over_budget({"durable": 600_000.0}, budget) == []  # cheaper is fine
    [problem] = cost.over_budget({"durable": 1_020_001.0}, budget)
    assert "+2.0% over its budget of 1,000,000" in problem
    [problem] = cost.over_budget({"durable": 150_000.0}, budget)  # lost the hits
    assert "broken measurement" in problem


@pytest.mark.timeout(900)
def test_collect_costs_stay_within_their_budgets() -> None:
    if cost.valgrind() is None:
        reason = "valgrind is missing (apt-get install valgrind; scripts/test installs it)"
        if IN_CI:
            pytest.fail(f"CI is set but {reason}: the cost check cannot run")
        pytest.skip(reason)
    budget = cost.load_budget()
    runs = cost.count_all()
    measured = {name: costs[0] for name, costs in runs.items()}
    problems = cost.over_budget(measured, budget)
    if problems:
        changed = cost.changed_environment(budget)
        pytest.fail(
            "\n".join(problems)
            + "\nA change that raises the cost records the new budgets in the same commit: "
            'python bench/cost.py --record "<why>", the reason in the commit message.'
            + "".join(f"\nnot the recorded environment: {line}" for line in changed)
        )
