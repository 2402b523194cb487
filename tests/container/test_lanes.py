"""TagLanes: jobs run on worker threads, serially per lane, results back on the loop.

Timing is proven with events, never with "took less than X": every wait has a generous
timeout only so that a broken lane fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from lupa.lua54 import LuaRuntime
from prometheus_client import REGISTRY

import container.lanes as lanes_module
from container.lanes import LaneBusy, TagLanes

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0  # what a test waits for something that should happen at once
GATE_TIMEOUT = 30.0  # a gate left closed by a failing test still lets its worker go


class Gate:
    """A job that holds its worker until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def job(self, value: Any = None) -> Callable[[], Any]:
        def run() -> Any:
            self.entered.set()
            self.opened.wait(GATE_TIMEOUT)
            return value

        return run

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, TIMEOUT), "the job never started"

    def open(self) -> None:
        self.opened.set()


class Rig:
    """Starts lanes and gates for a test; opens every gate, then stops every lane, after it."""

    def __init__(self) -> None:
        self.started: list[TagLanes] = []
        self.gates: list[Gate] = []

    def lanes(self, **kwargs: Any) -> TagLanes:
        lanes = TagLanes(**kwargs)
        lanes.start()
        self.started.append(lanes)
        return lanes

    def gate(self) -> Gate:
        gate = Gate()
        self.gates.append(gate)
        return gate


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made = Rig()
    yield made
    for gate in made.gates:
        gate.open()
    for lanes in made.started:
        await lanes.stop()


async def within(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, TIMEOUT)


async def settle_tasks() -> None:
    """Let the tasks created so far run up to their first wait (joining their lane)."""
    for _ in range(3):
        await asyncio.sleep(0)


def stuck_count(lane: str) -> float:
    return REGISTRY.get_sample_value("tagwire_tag_lane_stuck_total", {"lane": lane}) or 0.0


async def overlap(lanes: TagLanes, first: str, second: str) -> list[bool]:
    """Runs one job on each lane, each waiting for the other to start: both True only if
    the two lanes ran at the same time (one waits at most 5 s, then reports False)."""
    a_in, b_in = threading.Event(), threading.Event()

    def job_a() -> bool:
        a_in.set()
        return b_in.wait(5)

    def job_b() -> bool:
        b_in.set()
        return a_in.wait(5)

    return list(await within(asyncio.gather(lanes.run(first, job_a), lanes.run(second, job_b))))


# --- results and errors ---------------------------------------------------------------


async def test_the_result_comes_back_to_the_caller_from_a_worker_thread(lanes: TagLanes):
    def job() -> tuple[str, int]:
        return "done", threading.get_ident()

    value, thread = await within(lanes.run("shop", job))
    assert value == "done"
    assert thread != threading.get_ident()


async def test_the_exception_comes_back_to_the_caller_and_the_lane_goes_on(lanes: TagLanes):
    def job() -> None:
        raise ValueError("the template broke")

    with pytest.raises(ValueError, match="the template broke"):
        await within(lanes.run("shop", job))
    assert await within(lanes.run("shop", lambda: "next")) == "next"


async def test_each_caller_of_a_batch_gets_its_own_result_or_error(rig: Rig):
    lanes = rig.lanes(workers=1)
    gate = rig.gate()
    held = asyncio.create_task(lanes.run("shop", gate.job("held")))
    await gate.wait_entered()

    def fails() -> None:
        raise KeyError("missing")

    calls = [
        asyncio.create_task(lanes.run("shop", lambda: 1)),
        asyncio.create_task(lanes.run("shop", fails)),
        asyncio.create_task(lanes.run("shop", lambda: 3)),
    ]
    await settle_tasks()
    gate.open()  # the three waiting jobs run as one batch
    results = await within(asyncio.gather(held, *calls, return_exceptions=True))
    assert results[0] == "held"
    assert results[1] == 1
    assert isinstance(results[2], KeyError)
    assert results[3] == 3


async def test_a_job_raising_stop_iteration_reaches_its_caller_without_stranding_others(
    rig: Rig,
):
    """A Future refuses StopIteration (PEP 479); it must still reach its caller as an error,
    and the jobs settled with it must still get their results."""
    lanes = rig.lanes(workers=1)
    gate = rig.gate()
    held = asyncio.create_task(lanes.run("shop", gate.job("held")))
    await gate.wait_entered()

    def exhausted() -> Any:
        return next(iter(()))

    broken = asyncio.create_task(lanes.run("shop", exhausted))
    after = asyncio.create_task(lanes.run("shop", lambda: "after"))
    await settle_tasks()
    gate.open()
    with pytest.raises(RuntimeError) as info:
        await within(broken)
    assert isinstance(info.value.__cause__, StopIteration)
    assert await within(after) == "after"
    assert await within(held) == "held"


async def test_run_before_start_and_zero_workers_are_refused():
    with pytest.raises(RuntimeError, match="start"):
        await TagLanes().run("shop", lambda: None)
    with pytest.raises(ValueError, match="workers"):
        TagLanes(workers=0)


# --- ordering and concurrency ----------------------------------------------------------


async def test_a_lane_runs_its_jobs_in_order_one_at_a_time(rig: Rig):
    lanes = rig.lanes(workers=4)
    lock = threading.Lock()
    active = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    order: dict[str, list[int]] = {"a": [], "b": []}

    def job(lane: str, index: int) -> Callable[[], int]:
        def run() -> int:
            with lock:
                active[lane] += 1
                peak[lane] = max(peak[lane], active[lane])
                order[lane].append(index)
            time.sleep(0.001)  # widen the window an overlap would show in
            with lock:
                active[lane] -= 1
            return index

        return run

    calls = []
    for index in range(40):
        calls.append(lanes.run("a", job("a", index)))
        calls.append(lanes.run("b", job("b", index)))
    results = await within(asyncio.gather(*calls))
    assert results == [index for index in range(40) for _ in "ab"]
    assert order == {"a": list(range(40)), "b": list(range(40))}
    assert peak == {"a": 1, "b": 1}


async def test_two_lanes_run_at_the_same_time_on_two_workers(rig: Rig):
    lanes = rig.lanes(workers=2)
    assert await overlap(lanes, "shop", "blog") == [True, True]


async def test_a_blocked_lane_does_not_delay_another_lane(rig: Rig):
    lanes = rig.lanes(workers=2)
    gate = rig.gate()
    blocked = asyncio.create_task(lanes.run("slow", gate.job("slow")))
    await gate.wait_entered()
    assert await within(lanes.run("fast", lambda: "fast")) == "fast"
    assert await within(lanes.run("fast", lambda: "again")) == "again"
    assert not blocked.done()
    gate.open()
    assert await within(blocked) == "slow"


async def test_the_event_loop_keeps_running_while_a_job_runs_lua(rig: Rig):
    """lupa releases the GIL while Lua runs: the loop must tick during a Lua busy loop."""
    lanes = rig.lanes(workers=1)
    lua = LuaRuntime()
    spin = lua.eval(
        "function(seconds) local t = os.clock() while os.clock() - t < seconds do end"
        " return 'spun' end"
    )
    in_lua, out_of_lua = threading.Event(), threading.Event()

    def job() -> str:
        in_lua.set()
        try:
            return str(spin(0.3))
        finally:
            out_of_lua.set()

    task = asyncio.create_task(lanes.run("lua", job))
    ticks_in_lua = 0
    deadline = time.monotonic() + TIMEOUT
    while not task.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
        if in_lua.is_set() and not out_of_lua.is_set():
            ticks_in_lua += 1
    assert await within(task) == "spun"
    assert ticks_in_lua >= 10, f"the loop ticked only {ticks_in_lua} times while Lua ran"


# --- back pressure ---------------------------------------------------------------------


async def test_a_full_lane_refuses_with_lane_busy_and_other_lanes_still_queue(rig: Rig):
    lanes = rig.lanes(workers=1, max_queued=2)
    gate = rig.gate()
    running = asyncio.create_task(lanes.run("shop", gate.job("running")))
    await gate.wait_entered()
    queued = [asyncio.create_task(lanes.run("shop", lambda i=i: i)) for i in range(2)]
    await settle_tasks()

    with pytest.raises(LaneBusy) as busy:
        await lanes.run("shop", lambda: "one too many")
    assert busy.value.key == "shop"
    assert "2" in busy.value.reason
    assert busy.value.status == 503

    other = asyncio.create_task(lanes.run("blog", lambda: "blog"))
    await settle_tasks()
    assert not other.done()  # queued, not refused
    gate.open()
    assert await within(asyncio.gather(running, *queued, other)) == ["running", 0, 1, "blog"]
    assert await within(lanes.run("shop", lambda: "room again")) == "room again"


# --- the watchdog ----------------------------------------------------------------------


async def test_a_stuck_lane_refuses_its_jobs_until_its_run_returns(rig: Rig):
    lanes = rig.lanes(workers=2, stuck_after_s=0.2)
    before = stuck_count("wedged")
    gate = rig.gate()
    stuck = asyncio.create_task(lanes.run("wedged", gate.job("late")))
    await gate.wait_entered()
    waiting = asyncio.create_task(lanes.run("wedged", lambda: "waiting"))

    with pytest.raises(LaneBusy, match="stuck"):
        await within(waiting)
    with pytest.raises(LaneBusy, match="stuck"):
        await lanes.run("wedged", lambda: "new")
    assert stuck_count("wedged") == before + 1

    # A fresh worker took the stuck one's place: two other lanes still run side by side.
    assert await overlap(lanes, "shop", "blog") == [True, True]
    assert not stuck.done()

    gate.open()
    assert await within(stuck) == "late"
    # The lane is back as soon as its run returned, and the workers are not short.
    assert await within(lanes.run("wedged", lambda: "back")) == "back"
    assert await overlap(lanes, "wedged", "shop") == [True, True]
    assert stuck_count("wedged") == before + 1


async def test_a_stuck_run_does_not_hold_the_jobs_drained_with_it(rig: Rig):
    """A worker takes a lane's waiting jobs as one batch: when one of them gets stuck, the
    ones that finished before it get their results and the ones after it are refused."""
    lanes = rig.lanes(workers=1, stuck_after_s=0.2)
    hold, wedge = rig.gate(), rig.gate()
    held = asyncio.create_task(lanes.run("hold", hold.job("held")))
    await hold.wait_entered()
    before = asyncio.create_task(lanes.run("batch", lambda: "before"))
    stuck = asyncio.create_task(lanes.run("batch", wedge.job("late")))
    after = asyncio.create_task(lanes.run("batch", lambda: "after"))
    await settle_tasks()
    hold.open()  # the only worker now drains before, stuck and after together
    await wedge.wait_entered()

    assert await within(before) == "before"
    with pytest.raises(LaneBusy):
        await within(after)
    assert not stuck.done()
    wedge.open()
    assert await within(stuck) == "late"
    assert await within(held) == "held"
    assert await within(lanes.run("batch", lambda: "back")) == "back"


async def test_a_run_ending_as_the_watchdog_looks_does_not_leave_its_lane_stuck(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
):
    """White box, to force one interleaving: the watchdog has read a run's start and found
    it overdue, and the run returns (its worker leaves the lane) before the lane is marked.
    Marking it then would refuse the lane's jobs for good: no run is left to clear it."""
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(lanes_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    gate = rig.gate()
    armed = threading.Event()
    slot = lanes_module._Lane.__dict__["started"]  # the slot a run's start is kept in

    class RacingLane(lanes_module._Lane):
        __slots__ = ()

        @property
        def started(self) -> float:
            value: float = slot.__get__(self)
            if value and armed.is_set() and threading.current_thread() is main:
                armed.clear()
                gate.open()  # the run returns now; wait until its worker left the lane
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    with self.lock:
                        if not self.scheduled:
                            break
                    time.sleep(0.001)
            return value

        @started.setter
        def started(self, value: float) -> None:
            slot.__set__(self, value)

    main = threading.current_thread()
    monkeypatch.setattr(lanes_module, "_Lane", RacingLane)
    lanes = rig.lanes(workers=2, stuck_after_s=0.2)
    before = stuck_count("racing")
    run = asyncio.create_task(lanes.run("racing", gate.job("done")))
    await gate.wait_entered()
    clock.now += 60  # overdue at the watchdog's next look, which the lane then races
    armed.set()
    assert await within(run) == "done"
    assert not armed.is_set(), "the watchdog never looked at the overdue run"
    assert await within(lanes.run("racing", lambda: "still open")) == "still open"
    assert stuck_count("racing") == before


# --- cancellation and stop -------------------------------------------------------------


async def test_a_cancelled_caller_does_not_break_its_lane(rig: Rig):
    lanes = rig.lanes(workers=1)
    gate = rig.gate()
    running = asyncio.create_task(lanes.run("shop", gate.job("running")))
    await gate.wait_entered()
    queued = asyncio.create_task(lanes.run("shop", lambda: "queued"))
    after = asyncio.create_task(lanes.run("shop", lambda: "after"))
    await settle_tasks()
    running.cancel()
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    with pytest.raises(asyncio.CancelledError):
        await queued
    gate.open()
    assert await within(after) == "after"
    assert await within(lanes.run("shop", lambda: "next")) == "next"


async def test_stop_lets_the_queued_jobs_finish(rig: Rig):
    lanes = rig.lanes(workers=1)
    gate = rig.gate()
    first = asyncio.create_task(lanes.run("shop", gate.job("first")))
    await gate.wait_entered()
    queued = [
        asyncio.create_task(lanes.run("shop", lambda: "second")),
        asyncio.create_task(lanes.run("blog", lambda: "other lane")),
    ]
    await settle_tasks()
    stopping = asyncio.create_task(lanes.stop())
    await settle_tasks()  # stop has asked the workers to end
    gate.open()
    assert await within(asyncio.gather(first, *queued)) == ["first", "second", "other lane"]
    await within(stopping)


async def test_stop_does_not_wait_for_a_stuck_run(rig: Rig):
    lanes = rig.lanes(workers=1, stuck_after_s=0.2)
    gate = rig.gate()
    stuck = asyncio.create_task(lanes.run("shop", gate.job("late")))
    await gate.wait_entered()
    await within(lanes.stop())
    assert not gate.opened.is_set()
    assert not stuck.done()
    gate.open()  # the abandoned worker still hands its result back
    assert await within(stuck) == "late"
