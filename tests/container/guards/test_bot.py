import pytest

from container.guards.bot import (
    CRAWLER,
    EMPTY_USER_AGENT,
    FUTURE_TS_MS,
    HEADLESS_BROWSER,
    HTTP_CLIENT,
    NO_PAGE_URL,
    TS_IN_FUTURE,
    BotFilter,
    hit_reason,
    is_loopback,
)
from tests.helpers import make_hit

NOW = 1_800_000_000_000
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", CRAWLER),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", CRAWLER),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", CRAWLER),
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", CRAWLER),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", CRAWLER),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)", CRAWLER),
        ("SomeNewCrawler/0.1", CRAWLER),
        ("python-requests/2.32.3", HTTP_CLIENT),
        ("curl/8.5.0", HTTP_CLIENT),
        ("Go-http-client/2.0", HTTP_CLIENT),
        ("python-httpx/0.27.0", HTTP_CLIENT),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), HEADLESS_BROWSER),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 PhantomJS/2.1.1", HEADLESS_BROWSER),
        ("", EMPTY_USER_AGENT),
        ("   ", EMPTY_USER_AGENT),
    ],
)
def test_bots_are_named_by_kind(user_agent, reason):
    assert BotFilter().user_agent_reason(user_agent) == reason


@pytest.mark.parametrize(
    "user_agent",
    [
        CHROME,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        # a phone brand with "bot" in its name, and in-app browsers of social apps
        "Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0]",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile "
        "Safari/537.36 Instagram 300.0.0.0",
        "testclient",
    ],
)
def test_browsers_pass(user_agent):
    assert BotFilter().user_agent_reason(user_agent) is None


def test_memo_is_bounded_and_answers_the_same():
    bots = BotFilter(max_memo=2)
    for user_agent in ("curl/8", CHROME, "a", "b", "curl/8"):
        bots.user_agent_reason(user_agent)
    assert len(bots._memo) <= 2
    assert bots.user_agent_reason("curl/8") == HTTP_CLIENT
    assert bots.user_agent_reason(CHROME) is None


def test_a_page_hit_passes():
    assert hit_reason(make_hit(ts=NOW), NOW) is None
    assert hit_reason(make_hit(ts=NOW + FUTURE_TS_MS), NOW) is None
    # an old timestamp is a queued or retried hit, not a bot: the event time is clamped
    assert hit_reason(make_hit(ts=NOW - 30 * FUTURE_TS_MS), NOW) is None
    hit = make_hit()
    del hit["ts"]
    assert hit_reason(hit, NOW) is None


@pytest.mark.parametrize(
    ("page", "reason"),
    [(None, NO_PAGE_URL), ({}, NO_PAGE_URL), ({"title": "Thanks"}, NO_PAGE_URL)],
)
def test_a_hit_without_a_page_url_is_not_from_a_page(page, reason):
    hit = make_hit(page=page)
    if page is None:
        del hit["page"]
    assert hit_reason(hit, NOW) == reason


def test_a_timestamp_a_day_ahead_is_not_from_a_page():
    assert hit_reason(make_hit(ts=NOW + FUTURE_TS_MS + 1), NOW) == TS_IN_FUTURE


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("10.0.0.1", False), ("198.51.100.7", False), ("2001:db8::1", False), ("testclient", False),
     ("1127.0.0.1", False)],
)  # fmt: skip
def test_loopback(ip, loopback):
    assert is_loopback(ip) is loopback
