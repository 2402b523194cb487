"""The cost budget (W2.2): a tag's outcome must not depend on how busy the machine is.

Every hostile case below used to run for seconds inside one C call or in the output
encoder, past any instruction budget. Each must now fail with a `budget` error, and the
tests assert on the cost, which is deterministic: never on a wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tags.limits import DEFAULTS
from tags.package import load_package
from tags.runtime import TagResult, TemplateRuntime
from tags.testing import run_tests
from tests.tags.harness import Harness

TEMPLATES = Path(__file__).resolve().parents[2] / "tags" / "templates"
BIG = 10_000_000  # the cap: room to build big data before the hostile call
PIXEL = {"pixel": ["meta"]}


@dataclass(frozen=True)
class Hostile:
    id: str
    source: str
    # the up-front charge the hostile call must have asked for, at least (units)
    charge: int
    budget: int = DEFAULTS.instructions
    permissions: dict[str, Any] = field(default_factory=dict)


def _big_table(n: int, value: str = "i") -> str:
    return f"local t = {{}} for i = 1, {n} do t[i] = {value} end "


HOSTILE = [
    # 200k items sorted in C: n * log2(n) comparisons at 8 units, charged before sorting
    Hostile("table.sort of 200k items", _big_table(200_000, "(i * 7919) % 200003")
            + "table.sort(t)", 200_000 * 18 * 8, budget=BIG),
    Hostile("table.sort of long strings", "local s = ('x'):rep(1024) local t = {} "
            "for i = 1, 1000 do t[i] = s end table.sort(t)", 1000 * 10 * (8 + 512)),
    # the loop from the issue: each utf8.char(table.unpack(t)) is one VM instruction
    Hostile("utf8.char(table.unpack(t)) in a loop", _big_table(10_000, "233")
            + "for _ = 1, 1000 do local s = utf8.char(table.unpack(t)) end",
            10_000 * (4 + 16)),
    Hostile("table.unpack of 60k values in a loop", _big_table(60_000)
            + "for _ = 1, 100 do local n = select('#', table.unpack(t)) end", 60_000 * 4,
            budget=BIG // 10),
    Hostile("table.concat in a loop", "local s = ('x'):rep(100) " + _big_table(10_000, "s")
            + "for _ = 1, 1000 do local r = table.concat(t) end", 10_000 * 4 + 1_000_000 // 8),
    Hostile("table.insert at 1 on a big table", _big_table(100_000)
            + "for _ = 1, 1000 do table.insert(t, 1, 0) end", 100_000 * 3),
    Hostile("table.remove at 1 on a big table", _big_table(100_000)
            + "for _ = 1, 1000 do table.remove(t, 1) end", 100_000 * 3),
    Hostile("string.rep of 1 MiB in a loop", "for _ = 1, 1000 do local s = ('x'):rep(2^20) end",
            2**20 + 2**20 // 8),
    Hostile("string.rep with a separator", "local s = ('x'):rep(1e5, ('y'):rep(1e5))",
            10**5 + (10**5 * (1 + 10**5)) // 8),
    Hostile("string.find on a 1 MiB string", "local s = ('x'):rep(1024):rep(1024) "
            "for _ = 1, 1000 do local i = s:find('y') end", 2**20 * 2),
    Hostile("string.split on a 1 MiB string", "local s = ('x,'):rep(512):rep(1024) "
            "for _ = 1, 1000 do local p = s:split(';') end", 2**20 * 2),
    Hostile("string.replace on a 1 MiB string", "local s = ('x'):rep(1024):rep(1024) "
            "for _ = 1, 1000 do local r = s:replace('y', 'z') end", 2**20 * 2),
    Hostile("utf8.len on a 1 MiB string", "local s = ('é'):rep(512):rep(1024) "
            "for _ = 1, 1000 do local n = utf8.len(s) end", 2**20),
    Hostile("string.upper on a 1 MiB string", "local s = ('x'):rep(1024):rep(1024) "
            "for _ = 1, 1000 do local u = s:upper() end", 2**20 // 2),
    Hostile("string.format %q on a 1 MiB string", "local s = ('\\1'):rep(1024):rep(1024) "
            "local q = string.format('%q', s)", 2**20 * 20, budget=BIG),
    Hostile("string.byte of a whole 60 KiB string in a loop", "local s = ('x'):rep(1024):rep(60) "
            "for _ = 1, 100 do local n = select('#', s:byte(1, -1)) end", 60 * 1024 * 4),
    Hostile("tonumber on a 1 MiB string", "local s = ('1'):rep(1024):rep(1024) "
            "for _ = 1, 1000 do local n = tonumber(s) end", 2**20 // 2),
    Hostile("error with a 1 MiB message, caught in a loop", "local s = ('x'):rep(1024):rep(1024) "
            "for _ = 1, 1000 do pcall(error, s) end", 2**20 // 8),
    # the encoder: 1,200 references to one 4 KiB string of control characters, each escaped
    # on its own (0.5-3.7 s before, after the hook was removed)
    Hostile("output encoder on shared references", "local s = ('\\1'):rep(4096) local a = {} "
            "for i = 1, 1200 do a[i] = s end pixel{vendor = 'meta', command = 'x', args = a}",
            4096 * 9, permissions=PIXEL),
    Hostile("json.encode on shared references", "local s = ('\\1'):rep(4096) local a = {} "
            "for i = 1, 1200 do a[i] = s end local j = json.encode(a)", 4096 * 9),
]  # fmt: skip


def _run(hostile: Hostile, runtime: TemplateRuntime | None = None) -> TagResult:
    harness = Harness(runtime or TemplateRuntime())
    return harness.run(
        hostile.source, permissions=hostile.permissions, limits={"instructions": hostile.budget}
    )


@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.id for h in HOSTILE])
def test_hostile_c_work_fails_on_the_budget(hostile: Hostile) -> None:
    result = _run(hostile)
    assert result.error is not None, "the hostile case completed"
    assert (result.error.kind, result.error.message) == (
        "budget",
        f"cost: needs more than the budget of {hostile.budget} units",
    )
    assert result.cost > hostile.budget
    assert result.cost >= hostile.charge
    assert (result.requests, result.pixels, result.logs) == ([], [], [])
    # deterministic: the same template on the same hit fails the same way in another
    # runtime, and costs the same in the same one (where the budget ran out may depend on
    # the order pairs() visits keys in, which Lua seeds at random per runtime)
    runtime = TemplateRuntime()
    again = [_run(hostile, runtime) for _ in range(2)]
    assert again[0].cost == again[1].cost
    assert all(r.error is not None and r.error.message == result.error.message for r in again)


def test_a_call_the_budget_cannot_pay_for_fails_before_it_runs() -> None:
    # the sort would take seconds; it is refused with the whole charge still ahead
    source = _big_table(200_000) + "table.sort(t)"
    harness = Harness(TemplateRuntime())
    result = harness.run(source, limits={"instructions": BIG})
    assert result.error is not None
    assert result.error.kind == "budget"
    building = harness.run(_big_table(200_000), limits={"instructions": BIG}).cost
    # the hook counts instructions in steps of 1,000
    assert result.cost >= building - 1000 + 200_000 * 18 * 8
    harness.assert_healthy()


def test_the_same_template_and_hit_cost_the_same_on_every_run() -> None:
    source = """
    local parts = {}
    for i = 1, 50 do parts[#parts + 1] = tostring(i):rep(3) end
    local s = table.concat(parts, ",")
    table.sort(parts)
    local d = event.get("data")
    -- json.encode runs under the hook: the output encoder's string cache must not make a
    -- later run cheaper than the first
    local j = json.encode({parts = parts, d = d})
    send_http{url = "https://api.example.com/x", body = {s = s:upper(), n = #s:split(","),
              v = d.value, items = d.items, e = event.get("event"), j = #j}}
    """
    permissions = {"read_event_data": ["event", "data.*"],
                   "send_http": [{"url": "https://api.example.com/*"}]}  # fmt: skip
    costs = set()
    for _ in range(3):
        harness = Harness(TemplateRuntime())
        bound = harness.bind(source, permissions=permissions)
        for _ in range(20):
            result = harness.execute(bound)
            assert result.error is None, result.error
            costs.add(result.cost)
    assert len(costs) == 1
    assert 0 < costs.pop() < DEFAULTS.instructions // 10


def test_strings_the_output_encoder_knows_cost_the_same() -> None:
    """The output encoder remembers clean strings across runs and writes them faster; a
    run that runs out of budget while encoding them stops at the same cost. (2,000 strings:
    fewer than the encoder remembers, so the second run knows all of them.)"""
    source = ("local a = {} for i = 1, 1000 do a['key' .. i] = 'value' .. i end "
              "pixel{vendor = 'meta', command = 'x', args = {a}}")  # fmt: skip
    short = Hostile("short", source, 0, budget=100_000, permissions=PIXEL)
    runtime = TemplateRuntime()  # one runtime: where the budget runs out follows pairs()
    fresh = _run(short, runtime)
    # the same strings encoded in full, under a budget that pays for them
    assert _run(Hostile("long", source, 0, budget=BIG, permissions=PIXEL), runtime).error is None
    known = _run(short, runtime)
    assert fresh.error is not None
    assert known.error is not None
    assert (fresh.error.kind, known.error.kind) == ("budget", "budget")
    assert known.cost == fresh.cost


def test_the_cost_counts_instructions_and_charges() -> None:
    harness = Harness(TemplateRuntime())
    loop = harness.run("for i = 1, 10000 do end").cost
    assert 10_000 <= loop <= 11_000  # the hook counts in steps of 1,000 instructions
    # a charge is added to the instructions: 2^20 repetitions plus 2^20 bytes / 8
    big = harness.run("local s = ('x'):rep(2^20)", limits={"instructions": BIG}).cost
    small = harness.run("local s = ('x'):rep(1)", limits={"instructions": BIG}).cost
    assert big - small == (2**20 + 2**17) - 1


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir()))
def test_shipped_templates_use_under_a_tenth_of_the_default_budget(name: str) -> None:
    package = load_package(TEMPLATES / name)
    assert package.limits.instructions == DEFAULTS.instructions
    outcomes = run_tests(package)
    assert outcomes
    assert all(o.passed for o in outcomes)
    assert max(o.cost for o in outcomes) < DEFAULTS.instructions // 10
