"""Verdict to Delivery: backoff with jitter, Retry-After, the attempt budget, split alone."""

from __future__ import annotations

import pytest

from container.delivery.batching import Answer, HttpPolicy, Verdict
from container.delivery.settle import retry_after_s, retry_delay_s, settle
from tests.container.delivery.support import item

NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
POLICY = HttpPolicy()


def one(verdict: Verdict, answer: Answer, attempts: int = 0, max_attempts: int = 8, jitter=1.0):
    entries = [POLICY.entry(item(("https://h.example/x", {}, {}), attempts=attempts))]
    settled = settle(entries, [verdict], answer, now=NOW, max_attempts=max_attempts,
                     jitter=jitter, duration_ms=12)  # fmt: skip
    (delivery,) = settled.deliveries
    return delivery


def test_sent() -> None:
    delivery = one(Verdict("sent"), Answer(204, ""))
    assert (delivery.state, delivery.status, delivery.at, delivery.duration_ms) == (
        "sent", 204, NOW_MS, 12)  # fmt: skip
    assert delivery.batch_size == 1


@pytest.mark.parametrize(("attempts", "jitter", "delay_s"),
                         [(0, 1.0, 2), (0, 0.5, 1), (5, 1.0, 64), (40, 1.0, 900)])  # fmt: skip
def test_retry_backs_off_exponentially_with_jitter(attempts, jitter, delay_s) -> None:
    delivery = one(Verdict("retry"), Answer(503, "busy"), attempts, max_attempts=99, jitter=jitter)
    assert delivery.state == "failed"
    assert delivery.next_attempt_at == NOW_MS + delay_s * 1000


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after_s("120", NOW) == 120
    assert retry_after_s("Thu, 01 Jan 2026 00:01:00 GMT", NOW) == 60
    assert retry_after_s("soon", NOW) is None
    assert retry_delay_s(1, "120", NOW, 1.0) == 120
    assert retry_delay_s(1, "99999", NOW, 1.0) == 900


def test_retry_after_is_honoured() -> None:
    delivery = one(Verdict("retry"), Answer(429, "", retry_after="120"))
    assert delivery.next_attempt_at == NOW_MS + 120_000


def test_the_last_allowed_attempt_is_dead() -> None:
    assert one(Verdict("retry"), Answer(503, ""), attempts=7, max_attempts=8).state == "dead"


def test_dead_keeps_the_reason_before_the_answer_within_the_limit() -> None:
    delivery = one(Verdict("dead", "Meta code 190: bad token"), Answer(401, "x" * 2000))
    assert delivery.response.startswith("Meta code 190: bad token | xxx")
    assert len(delivery.response) == 500


def test_a_split_row_alone_is_dead_with_the_reason() -> None:
    delivery = one(Verdict("split", "TikTok code 40002: Invalid"), Answer(200, "{}"))
    assert delivery.state == "dead"
    assert delivery.response == "TikTok code 40002: Invalid | {}"


def test_split_rows_of_a_batch_go_again_without_a_delivery() -> None:
    entries = [POLICY.entry(item(("https://h.example/x", {}, {}), id=i)) for i in (1, 2)]
    settled = settle(entries, [Verdict("split"), Verdict("dead", "bad")], Answer(422, "no"),
                     now=NOW, max_attempts=8, jitter=1.0, duration_ms=5)  # fmt: skip
    assert [e.item.id for e in settled.again] == [1]
    assert [(d.id, d.state, d.batch_size) for d in settled.deliveries] == [(2, "dead", 2)]


WAIT_MS = 6 * 3_600_000


def waited(attempts: int, event_age_ms: int, max_attempts: int = 3):
    row = item(("https://h.example/x", {}, {}), attempts=attempts,
               event_time_ms=NOW_MS - event_age_ms)  # fmt: skip
    settled = settle([POLICY.entry(row)], [Verdict("wait", "too recent")], Answer(200, "{}"),
                     now=NOW, max_attempts=max_attempts, jitter=1.0, duration_ms=1,
                     wait_ms=WAIT_MS)  # fmt: skip
    (delivery,) = settled.deliveries
    return delivery


def test_wait_comes_back_when_the_platform_takes_the_row_not_sooner() -> None:
    delivery = waited(attempts=0, event_age_ms=60_000)
    assert delivery.state == "failed"
    assert delivery.next_attempt_at == NOW_MS - 60_000 + WAIT_MS
    assert delivery.response == "too recent | {}"


def test_wait_is_never_dead_for_attempts_used_up_before_its_time() -> None:
    assert waited(attempts=10, event_age_ms=WAIT_MS - 1).state == "failed"
    # after that time a wait is a retry like any other: the budget applies, then backoff
    assert waited(attempts=10, event_age_ms=WAIT_MS).state == "dead"
    later = waited(attempts=0, event_age_ms=WAIT_MS + 1)
    assert (later.state, later.next_attempt_at) == ("failed", NOW_MS + 2000)
