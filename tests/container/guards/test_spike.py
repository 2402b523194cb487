import logging

from prometheus_client import REGISTRY

from container.guards.spike import SpikeDetector

MINUTE = 60_000
START = 1_800_000_000_000 // MINUTE * MINUTE  # a minute boundary


def spikes(container="shop"):
    return REGISTRY.get_sample_value("tagwire_guard_spikes_total", {"container": container}) or 0


def detector(**kwargs):
    kwargs.setdefault("warmup_minutes", 0)
    return SpikeDetector(10, 100, START, **kwargs)


def send(guard, count, minute, event="purchase", container="shop"):
    """`count` hits in minute `minute` after START; how many were held."""
    at = START + minute * MINUTE
    return sum(guard.observe(container, event, at + i % MINUTE) for i in range(count))


def steady(guard, per_minute, minutes, event="purchase"):
    for minute in range(minutes):
        assert send(guard, per_minute, minute, event) == 0


def test_a_quiet_event_is_held_from_the_minimum_on():
    guard = detector()
    assert send(guard, 99, 0) == 0
    assert send(guard, 5, 0) == 5


def test_usual_volume_passes_and_ten_times_it_is_held():
    guard = detector()
    steady(guard, 50, 30)
    assert send(guard, 500, 30) == 0  # exactly 10 x the baseline is not over it
    assert send(guard, 1, 30) == 1


def test_the_minimum_applies_even_over_the_multiple():
    guard = detector()
    steady(guard, 2, 30)
    assert send(guard, 99, 30) == 0
    assert send(guard, 1, 30) == 1


def test_an_episode_holds_every_hit_until_a_minute_ends_under_the_threshold(caplog):
    guard = detector()
    steady(guard, 50, 30)
    before = spikes()
    with caplog.at_level(logging.INFO, logger="tagwire.guards"):
        assert send(guard, 600, 30) == 100
        assert send(guard, 40, 31) == 40  # still in the episode: held, though calm
        assert send(guard, 40, 32) == 0  # minute 31 ended under the threshold
    assert spikes() == before + 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per episode
    assert warnings[0].fields["event"] == "purchase"
    assert warnings[0].fields["baseline_per_minute"] == 50
    over = [r for r in caplog.records if r.message == "volume spike over"]
    assert over[0].fields["held_hits"] == 140


def test_a_silent_minute_ends_an_episode():
    guard = detector()
    assert send(guard, 150, 0) == 51
    assert send(guard, 1, 2) == 0


def test_a_lasting_surge_becomes_the_new_baseline():
    guard = detector()
    steady(guard, 10, 30)
    held = [send(guard, 200, minute) for minute in range(30, 50)]
    assert held[0] > 0
    assert held[-1] == 0


def test_events_and_containers_are_counted_apart():
    guard = detector()
    steady(guard, 50, 30, event="purchase")
    assert send(guard, 99, 30, event="lead") == 0
    assert send(guard, 99, 30, event="lead", container="other") == 0
    assert send(guard, 400, 30, event="purchase") == 0


def test_nothing_is_judged_while_warming_up():
    """A node restarted during busy hours: its first minutes become the baseline."""
    guard = SpikeDetector(10, 100, START, warmup_minutes=5)
    for minute in range(5):
        assert send(guard, 5_000, minute) == 0
    assert send(guard, 5_000, 5) == 0
    assert send(guard, 50_001, 6) == 1


def test_an_event_first_seen_after_warm_up_is_measured_against_quiet_minutes():
    guard = SpikeDetector(10, 100, START, warmup_minutes=5)
    assert send(guard, 100, 40) == 1


def test_a_clock_that_goes_back_stays_in_the_current_minute():
    guard = detector()
    assert send(guard, 98, 5) == 0
    assert guard.observe("shop", "purchase", START + 4 * MINUTE) is False  # the 99th
    assert guard.observe("shop", "purchase", START + 5 * MINUTE) is True  # the 100th


def test_memory_is_bounded():
    guard = detector(max_keys=10)
    for n in range(1000):
        guard.observe("shop", f"custom_{n}", START)
    assert len(guard) == 10
