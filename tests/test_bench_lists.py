"""The README and the docs name the benchmarks `bench/run` really runs, and no others."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
RUN = (ROOT / "bench" / "run").read_text(encoding="utf-8")
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve"]


def run_blocks() -> list[str]:
    """The benchmarks bench/run runs, in its order: each block runs for `all` or its name."""
    return re.findall(r'\[ "\$which" = "all" \] \|\| \[ "\$which" = "(\w+)" \]; then\n\s+echo', RUN)


def names(alternatives: str) -> list[str]:
    """`all|lua|...` without `all`."""
    return [name for name in alternatives.split("|") if name != "all"]


def test_bench_run_accepts_and_announces_exactly_what_it_runs() -> None:
    ran = run_blocks()
    assert len(ran) == len(set(ran)) >= 7
    [accepted] = re.findall(r"^\s+(all\|[\w|]+)\) ;;$", RUN, re.M)
    usages = re.findall(r"bench/run \[(all\|[\w|]+)\]", RUN)
    assert len(usages) == 2  # the header comment and the usage message
    for listed in (accepted, *usages):
        assert names(listed) == ran


def test_readme_names_the_benchmarks_bench_run_runs() -> None:
    [listed] = re.findall(r"bash bench/run \[(all\|[\w|]+)\]", (ROOT / "README.md").read_text())
    assert names(listed) == run_blocks()


def test_docs_index_names_the_benchmarks_bench_run_runs() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    [row] = [line for line in index.splitlines() if line.startswith("| [benchmarks.md]")]
    assert re.findall(r"`(\w+)`", row) == run_blocks()


def test_benchmarks_page_names_the_benchmarks_bench_run_runs() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    ran = run_blocks()
    table = re.findall(r"^\| `(\w+)` \| `bench/", page, re.M)
    assert table == ran
    [(count, listed)] = re.findall(r"^bash bench/run +# all (\w+): (.*)$", page, re.M)
    assert re.findall(r"\w+", listed.replace("then", "")) == ran
    assert NUMBERS.index(count) == len(ran)
    assert f"There are {count} benchmarks" in page
