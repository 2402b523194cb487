"""Quarantine: strikes, periods, the probe, the gauge; time comes from a fake clock."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from container.quarantine import (
    EXPENSIVE_UNITS,
    LIMIT_KINDS,
    LONGEST_S,
    PERIOD_S,
    STRIKES,
    Quarantine,
)

_ids = itertools.count()


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fresh(clock: Clock | None = None) -> tuple[Quarantine, str, Clock]:
    """A quarantine of a container id no other test uses (the gauge is process-wide)."""
    container = f"quarantine-test-{next(_ids)}"
    clock = clock or Clock()
    return Quarantine(container, clock), container, clock


def gauge(container: str, tag: str) -> float | None:
    return REGISTRY.get_sample_value(
        "tagwire_tag_quarantined", {"container": container, "tag": tag}
    )


def strike(quarantine: Quarantine, tag: str, times: int, kind: str = "budget") -> None:
    for _ in range(times):
        assert quarantine.holds(tag) is None
        quarantine.outcome(tag, kind, "cost budget exceeded")


def quarantined(quarantine: Quarantine, tag: str = "hook") -> None:
    strike(quarantine, tag, STRIKES)
    assert quarantine.holds(tag) is not None


@pytest.mark.parametrize("kind", sorted(LIMIT_KINDS))
def test_strikes_in_a_row_of_a_limit_kind_quarantine_the_tag(kind: str):
    quarantine, container, clock = fresh()
    strike(quarantine, "hook", STRIKES - 1, kind)
    assert quarantine.holds("hook") is None
    assert gauge(container, "hook") is None
    quarantine.outcome("hook", kind, "too much")
    held = quarantine.holds("hook")
    assert held is not None
    assert (held.kind, held.reason, held.period_s) == (kind, "too much", PERIOD_S)
    assert held.until == clock.now + PERIOD_S
    assert gauge(container, "hook") == 1.0


def test_the_limit_kinds_count_together():
    quarantine, _, _ = fresh()
    kinds = ["budget", "limit", "deadline"] * STRIKES
    for kind in kinds[: STRIKES - 1]:
        quarantine.outcome("hook", kind)
    assert quarantine.holds("hook") is None
    quarantine.outcome("hook", kinds[STRIKES - 1], "last")
    held = quarantine.holds("hook")
    assert held is not None
    assert held.kind == kinds[STRIKES - 1]


@pytest.mark.parametrize("reset", [None, "runtime", "permission", "host", "syntax"])
def test_any_other_outcome_starts_the_count_again(reset: str | None):
    quarantine, _, _ = fresh()
    strike(quarantine, "hook", STRIKES - 1)
    quarantine.outcome("hook", reset)
    strike(quarantine, "hook", STRIKES - 1)
    assert quarantine.holds("hook") is None
    quarantine.outcome("hook", "budget")
    assert quarantine.holds("hook") is not None


def test_strikes_are_counted_per_tag():
    quarantine, container, _ = fresh()
    for _ in range(STRIKES - 1):
        quarantine.outcome("hook", "budget")
        quarantine.outcome("pixel", "budget")
    quarantine.outcome("pixel", "budget")
    assert quarantine.holds("pixel") is not None
    assert quarantine.holds("hook") is None
    assert gauge(container, "hook") is None


def test_a_quarantined_tag_is_held_until_its_period_ends_then_probed_once():
    quarantine, _, clock = fresh()
    quarantined(quarantine)
    clock.now += PERIOD_S - 0.001
    assert quarantine.holds("hook") is not None
    clock.now += 0.001  # the period is over: one run goes through as the probe
    assert quarantine.holds("hook") is None
    held = quarantine.holds("hook")  # the rest wait for the probe's outcome
    assert held is not None
    assert held.probing
    clock.now += 10 * LONGEST_S
    assert quarantine.holds("hook") is not None


def test_a_successful_probe_ends_the_quarantine_with_a_clean_count():
    quarantine, container, clock = fresh()
    quarantined(quarantine)
    clock.now += PERIOD_S
    assert quarantine.holds("hook") is None
    quarantine.outcome("hook", None)
    assert quarantine.holds("hook") is None
    assert quarantine.snapshot() == []
    assert gauge(container, "hook") == 0.0
    strike(quarantine, "hook", STRIKES - 1)  # a single limit failure is not enough again
    assert quarantine.holds("hook") is None


def test_a_probe_failing_otherwise_than_on_a_limit_ends_the_quarantine():
    quarantine, container, clock = fresh()
    quarantined(quarantine)
    clock.now += PERIOD_S
    assert quarantine.holds("hook") is None
    quarantine.outcome("hook", "runtime", "nil value")
    assert quarantine.holds("hook") is None
    assert gauge(container, "hook") == 0.0


def test_each_failed_probe_doubles_the_period_up_to_the_longest():
    quarantine, container, clock = fresh()
    quarantined(quarantine)
    periods = []
    for _ in range(7):
        held = quarantine.holds("hook")
        assert held is not None
        periods.append(held.period_s)
        clock.now = held.until
        assert quarantine.holds("hook") is None  # the probe
        quarantine.outcome("hook", "deadline", "wall clock")
        again = quarantine.holds("hook")
        assert again is not None
        assert not again.probing
        assert again.until == clock.now + again.period_s
        assert again.kind == "deadline"
    expected = [min(PERIOD_S * 2**n, LONGEST_S) for n in range(7)]
    assert periods == expected
    assert periods[-1] == LONGEST_S
    assert gauge(container, "hook") == 1.0


def test_the_snapshot_lists_the_quarantined_tags_by_id():
    quarantine, _, _ = fresh()
    before_ms = int(time.time() * 1000)
    for tag in ("zeta", "alpha"):
        strike(quarantine, tag, STRIKES, "limit")
    strike(quarantine, "beta", STRIKES - 1)
    after_ms = int(time.time() * 1000)
    snapshot = quarantine.snapshot()
    assert [entry["tag"] for entry in snapshot] == ["alpha", "zeta"]
    for entry in snapshot:
        assert (entry["kind"], entry["reason"], entry["period_s"]) == (
            "limit",
            "cost budget exceeded",
            PERIOD_S,
        )
        since = entry["since_ms"]
        assert isinstance(since, int)
        assert before_ms <= since <= after_ms
    assert set(snapshot[0]) == {"tag", "kind", "reason", "since_ms", "period_s"}


def test_containers_keep_separate_quarantines():
    first, first_id, clock = fresh()
    second, second_id, _ = fresh(clock)
    quarantined(first)
    assert second.holds("hook") is None
    assert gauge(second_id, "hook") is None
    assert gauge(first_id, "hook") == 1.0


OUTCOMES = st.sampled_from([None, "runtime", "host", *sorted(LIMIT_KINDS)])


@given(st.lists(OUTCOMES, max_size=40))
def test_with_the_clock_still_a_tag_is_held_iff_its_last_outcomes_hit_limits(outcomes):
    """Without time passing no probe happens: the tag is held exactly when its trailing
    run of limit failures reached STRIKES, for a period doubled once per failure past it."""
    quarantine, container, _ = fresh()
    for kind in outcomes:
        quarantine.outcome("hook", kind, "reason")
    trailing = 0
    for kind in reversed(outcomes):
        if kind not in LIMIT_KINDS:
            break
        trailing += 1
    held = quarantine.holds("hook")
    if trailing < STRIKES:
        assert held is None
        assert quarantine.snapshot() == []
        assert gauge(container, "hook") in (None, 0.0)
    else:
        assert held is not None
        assert held.period_s == min(PERIOD_S * 2 ** (trailing - STRIKES), LONGEST_S)
        assert held.kind == outcomes[-1]
        assert gauge(container, "hook") == 1.0


def test_failures_as_dear_as_the_default_budget_count_like_limits():
    """A template may raise its budget tenfold, spend it and then fail on purpose: that is
    as costly as running out, so it is quarantined the same way."""
    quarantine, _, _ = fresh()
    for _ in range(STRIKES):
        quarantine.outcome("hook", "runtime", "x", cost=EXPENSIVE_UNITS)
    assert quarantine.holds("hook") is not None
    cheap, _, _ = fresh()
    for _ in range(STRIKES * 2):
        cheap.outcome("hook", "runtime", "x", cost=EXPENSIVE_UNITS - 1)
    assert cheap.holds("hook") is None
