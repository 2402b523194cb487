import pytest

from container.guards.rates import CLIENT_LIMIT, IP_LIMIT, RateLimiter, RateLimits

T0 = 1_800_000_000_000


def test_a_burst_up_to_the_limit_then_the_limit_per_minute():
    limiter = RateLimiter(60)
    assert all(limiter.take("ip", 1, T0) == 0 for _ in range(60))
    assert limiter.take("ip", 1, T0) == 1  # one token back per second
    assert limiter.take("ip", 1, T0 + 999) == 1
    assert limiter.take("ip", 1, T0 + 1000) == 0
    assert limiter.take("ip", 1, T0 + 1000) == 1


def test_a_batch_costs_one_token_per_hit_and_is_all_or_nothing():
    limiter = RateLimiter(60)
    assert limiter.take("ip", 50, T0) == 0
    assert limiter.take("ip", 20, T0) == 10  # 10 left: nothing taken, 10 s until 20
    assert limiter.take("ip", 10, T0) == 0
    assert limiter.take("ip", 1, T0) == 1


def test_a_refused_request_takes_nothing():
    limiter = RateLimiter(60)
    limiter.take("ip", 60, T0)
    for _ in range(100):
        limiter.take("ip", 1, T0 + 500)
    assert limiter.take("ip", 1, T0 + 1000) == 0


def test_a_batch_larger_than_the_limit_passes_on_a_full_bucket():
    limiter = RateLimiter(10)
    assert limiter.take("ip", 50, T0) == 0
    assert limiter.take("ip", 50, T0) == 60


def test_the_bucket_refills_to_the_limit_not_beyond():
    limiter = RateLimiter(60)
    limiter.take("ip", 1, T0)
    assert limiter.take("ip", 60, T0 + 3_600_000) == 0
    assert limiter.take("ip", 1, T0 + 3_600_000) == 1


def test_a_clock_that_goes_back_refills_nothing():
    limiter = RateLimiter(60)
    limiter.take("ip", 60, T0)
    assert limiter.take("ip", 1, T0 - 60_000) == 1


def test_keys_are_independent():
    limiter = RateLimiter(1)
    assert limiter.take("a", 1, T0) == 0
    assert limiter.take("b", 1, T0) == 0
    assert limiter.take("a", 1, T0) == 60


def test_memory_is_bounded_dropping_the_least_recently_seen():
    limiter = RateLimiter(1, max_keys=3)
    limiter.take("busy", 1, T0)
    for n in range(1000):
        limiter.take(f"198.51.100.{n}", 1, T0)
        limiter.take("busy", 1, T0)  # stays recent, so stays limited
        assert len(limiter) <= 3
    assert limiter.take("busy", 1, T0) == 60


def test_zero_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)


def test_the_ip_limit_is_checked_first_and_named():
    limits = RateLimits(RateLimiter(2), RateLimiter(100))
    assert limits.check("ip", "client", 2, T0) is None
    verdict = limits.check("ip", "client", 1, T0)
    assert verdict == (IP_LIMIT, "max_hits_per_ip_minute", 2, 30)


def test_the_client_limit_gives_the_ip_its_tokens_back():
    limits = RateLimits(RateLimiter(3), RateLimiter(2))
    assert limits.check("ip", "client", 2, T0) is None
    verdict = limits.check("ip", "client", 1, T0)
    assert verdict == (CLIENT_LIMIT, "max_hits_per_client_minute", 2, 30)
    # the refused request did not use the IP's last token: another visitor behind it may
    assert limits.check("ip", "other-client", 1, T0) is None
    assert limits.check("ip", "third-client", 1, T0).reason == IP_LIMIT


def test_no_client_id_or_no_limit_skips_that_limit():
    limits = RateLimits(None, RateLimiter(1))
    assert limits.check("ip", None, 50, T0) is None
    assert limits.check("ip", None, 50, T0) is None
    assert RateLimits(None, None).check("ip", "client", 10**6, T0) is None
