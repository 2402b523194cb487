"""Sign-in attempts per address: ten a minute, then 429 until the minute has passed."""

from __future__ import annotations

from admin_ui.web.throttle import ATTEMPTS_PER_MINUTE, MAX_ADDRESSES, SignInThrottle
from tests.admin_ui.web.helpers import browser, sign_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_gets_ten_attempts_a_minute_and_others_are_unaffected():
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    assert all(throttle.allow("203.0.113.9") for _ in range(ATTEMPTS_PER_MINUTE))
    assert not throttle.allow("203.0.113.9")
    assert throttle.allow("198.51.100.7")
    clock.now += 59.9
    assert not throttle.allow("203.0.113.9")
    clock.now += 0.2
    assert throttle.allow("203.0.113.9")


def test_memory_stays_bounded():
    throttle = SignInThrottle(clock=Clock())
    for i in range(MAX_ADDRESSES + 50):
        throttle.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._seen) == MAX_ADDRESSES


def test_the_sign_in_page_answers_429_past_the_limit(tmp_path):
    with browser(tmp_path / "tagwire.db") as client:
        answers = [sign_in(client, "who@agency.example", "wrong password 1").status_code
                   for _ in range(ATTEMPTS_PER_MINUTE + 1)]  # fmt: skip
        last = sign_in(client, "who@agency.example", "wrong password 1")
    assert answers[:ATTEMPTS_PER_MINUTE] == [401] * ATTEMPTS_PER_MINUTE
    assert answers[-1] == 429
    assert last.status_code == 429
    assert "too many sign-in attempts from this address" in last.text
