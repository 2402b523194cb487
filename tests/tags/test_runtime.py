"""The template API, one small example per function, and the runtime under sustained use."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tags.runtime as runtime_module
from tags.errors import TemplateError
from tags.limits import CAPS, DEFAULTS, LIMIT_NAMES, limits_from_manifest
from tags.runtime import TemplateRuntime
from tests.tags.harness import NOW_MS, SECRETS, Harness, package

pytestmark = pytest.mark.timeout(60)

LOGGING = {"logging": True}


def logs_of(harness: Harness, source: str, **meta: Any) -> list[str]:
    permissions = {**LOGGING, **meta.pop("permissions", {})}
    result = harness.run(source, permissions=permissions, **meta)
    assert result.error is None, result.error
    return result.logs


def error_of(harness: Harness, source: str, **meta: Any) -> TemplateError:
    result = harness.run(source, **meta)
    assert result.error is not None, result
    return result.error


# --- event.get ------------------------------------------------------------------------


def test_event_get_exact_keys(harness: Harness) -> None:
    source = 'log(event.get("event"), event.get("data.value"), event.get("server.client_ip"))'
    permissions = {"read_event_data": ["event", "data.value", "server.client_ip"]}
    assert logs_of(harness, source, permissions=permissions) == ["lead 50 203.0.113.9"]
    error = error_of(harness, 'event.get("data.currency")', permissions=permissions)
    assert (error.kind, error.message) == (
        "permission",
        "read_event_data does not allow 'data.currency'",
    )


def test_event_get_prefix_grants_the_key_and_everything_below(harness: Harness) -> None:
    source = """
    local data = event.get("data")
    log(data.value, data.currency, #data.items, data.items[2].id, event.get("data.items")[1].qty)
    log(event.get("data.missing"), event.get("data.value.deeper"))
    """
    permissions = {"read_event_data": ["data.*"]}
    assert logs_of(harness, source, permissions=permissions) == ["50 EUR 2 b 1", "nil nil"]
    assert error_of(harness, 'event.get("event")', permissions=permissions).kind == "permission"


def test_event_get_any(harness: Harness) -> None:
    source = 'log(event.get("user.em"):sub(1, 8), event.get("server.event_time_ms"))'
    permissions = {"read_event_data": "any"}
    assert logs_of(harness, source, permissions=permissions) == [f"7b17fb0b {NOW_MS}"]


def test_event_get_checks_its_argument(harness: Harness) -> None:
    permissions = {"read_event_data": "any"}
    error = error_of(harness, "event.get(5)", permissions=permissions)
    assert (error.kind, error.message) == ("runtime", "t:1: event key must be a string")
    error = error_of(harness, "event.get(('x'):rep(300))", permissions=permissions)
    assert (error.kind, error.message) == ("limit", "event key longer than 256 bytes")


# --- cookies --------------------------------------------------------------------------


def test_cookies_get_returns_the_hit_cookie_or_nil(harness: Harness) -> None:
    permissions = {"get_cookies": ["_fbp", "_fbc"]}
    source = 'log(cookies.get("_fbp"), cookies.get("_fbc"))'
    assert logs_of(harness, source, permissions=permissions) == ["fb.1.1763900000000.42 nil"]


def test_cookies_get_prefix_grant_reads_a_family_of_cookies(harness: Harness) -> None:
    source = 'log(cookies.get("_ga_ABC123"), cookies.get("_ga_"), cookies.get("_gax"))'
    cookies = {"_ga_ABC123": "GS2.1.s1763900000$o1", "_ga_": "x", "_gax": "y"}
    bound = harness.bind(source, permissions={"get_cookies": ["_ga_*", "_gax"], **LOGGING})
    # "_ga_" itself is not in the family: a prefix grant needs a longer name
    result = harness.execute(bound, cookies=cookies)
    assert result.error is not None
    assert (result.error.kind, result.error.message) == (
        "permission", "get_cookies does not allow '_ga_'")  # fmt: skip
    bound = harness.bind('log(cookies.get("_ga_ABC123"), cookies.get("_ga_Z"))',
                         permissions={"get_cookies": ["_ga_*"], **LOGGING})  # fmt: skip
    assert harness.execute(bound, cookies=cookies).logs == ["GS2.1.s1763900000$o1 nil"]
    error = error_of(harness, 'cookies.get("_gb_1")', permissions={"get_cookies": ["_ga_*"]})
    assert error.kind == "permission"


def test_cookies_set_with_and_without_max_age(harness: Harness) -> None:
    result = harness.run(
        'cookies.set("_fbp", "fb.1.2.3") cookies.set("_fbc", "fb.1.2.abc", {max_age = 60})',
        permissions={"set_cookies": ["_fbp", "_fbc"]},
    )
    assert result.error is None, result.error
    assert result.cookies == [
        {"name": "_fbp", "value": "fb.1.2.3", "max_age": 34560000},
        {"name": "_fbc", "value": "fb.1.2.abc", "max_age": 60},
    ]


@pytest.mark.parametrize("max_age", ["1.5", "-1", "'60'"])
def test_cookies_set_wants_whole_seconds(harness: Harness, max_age: str) -> None:
    source = f'cookies.set("_fbp", "v", {{max_age = {max_age}}})'
    error = error_of(harness, source, permissions={"set_cookies": ["_fbp"]})
    assert (error.kind, error.message) == ("runtime", "t:1: max_age must be whole seconds")


# --- send_http ------------------------------------------------------------------------

HTTP = {"send_http": [{"url": "https://api.example/v1/*", "methods": ["POST", "GET"]}]}


def test_send_http_table_body_is_sent_as_json(harness: Harness) -> None:
    result = harness.run(
        'send_http{url = "https://api.example/v1/events", headers = {["x-key"] = "k"},'
        " body = {event = 'lead', value = 9.99, items = {1, 2}, empty = {}}}",
        permissions=HTTP,
    )
    assert result.error is None, result.error
    [request] = result.requests
    assert {k: v for k, v in request.items() if k != "body"} == {
        "method": "POST",
        "url": "https://api.example/v1/events",
        "headers": {"x-key": "k"},
    }
    assert orjson.loads(request["body"]) == {
        "event": "lead",
        "value": 9.99,
        "items": [1, 2],
        "empty": {},
    }


def test_send_http_string_body_and_get_without_body(harness: Harness) -> None:
    result = harness.run(
        'send_http{url = "https://api.example/v1/a", body = "raw text é"}'
        ' send_http{url = "https://api.example/v1/b?x=1", method = "GET"}',
        permissions=HTTP,
    )
    assert result.error is None, result.error
    assert [(r["method"], r["url"], r["body"]) for r in result.requests] == [
        ("POST", "https://api.example/v1/a", "raw text é"),
        ("GET", "https://api.example/v1/b?x=1", None),
    ]


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("HTTPS://API.EXAMPLE/v1/x", "https://api.example/v1/x"),
        ("https://api.example.:443/v1/x", "https://api.example/v1/x"),
    ],
)
def test_send_http_sends_the_normalised_url(harness: Harness, url: str, sent: str) -> None:
    result = harness.run(f"send_http{{url = {url!r}}}", permissions=HTTP)
    assert result.error is None, result.error
    assert [r["url"] for r in result.requests] == [sent]


@pytest.mark.parametrize("method", ["PUT", "post", "TRACE"])
def test_send_http_methods_must_be_granted(harness: Harness, method: str) -> None:
    source = f'send_http{{url = "https://api.example/v1/x", method = "{method}"}}'
    error = error_of(harness, source, permissions=HTTP)
    assert (error.kind, error.message) == (
        "permission",
        f"send_http method {method} not allowed for https://api.example/v1/x",
    )


def test_send_http_to_a_param_url(harness: Harness) -> None:
    result = harness.run(
        "send_http{url = params.endpoint, body = 'x'}",
        params={"endpoint": {"type": "string", "format": "url", "required": True}},
        values={"endpoint": "https://hooks.example/in"},
        permissions={"send_http": [{"url": "param:endpoint"}]},
    )
    assert result.error is None, result.error
    assert [r["url"] for r in result.requests] == ["https://hooks.example/in"]


def test_urls_the_tag_is_bound_to_are_checked_once_at_bind(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    check = runtime_module._check_url

    def counting(grants: Any, loopback: bool, url: str, method: str) -> str:
        calls.append((url, method))
        return check(grants, loopback, url, method)

    monkeypatch.setattr(runtime_module, "_check_url", counting)
    bound = harness.bind(
        """
        send_http{url = params.endpoint, body = 'x'}
        send_http{url = 'https://fixed.example/in', method = 'PUT'}
        send_http{url = 'https://fixed.example/in?a=1', method = 'PUT'}
        """,
        params={"endpoint": {"type": "string", "format": "url", "required": True}},
        values={"endpoint": "HTTPS://Hooks.Example:443/in"},
        permissions={"send_http": [{"url": "param:endpoint"},
                                   {"url": "https://fixed.example/in", "methods": ["PUT"]}]},
    )  # fmt: skip
    at_bind = len(calls)
    results = [harness.execute(bound) for _ in range(3)]
    assert all(r.error is None for r in results), results[0].error
    assert [r["url"] for r in results[0].requests] == [
        "https://hooks.example/in", "https://fixed.example/in", "https://fixed.example/in?a=1"
    ]  # fmt: skip
    assert len({r.cost for r in results}) == 1
    # only the URL with a query goes to the host, and the tag's checker remembers it
    assert calls[at_bind:] == [("https://fixed.example/in?a=1", "PUT")]
    # a URL checked at bind is still refused for a method its grant does not list
    refused = harness.execute(
        harness.bind(
            "send_http{url = params.endpoint, method = 'PUT'}",
            params={"endpoint": {"type": "string", "format": "url", "required": True}},
            values={"endpoint": "https://hooks.example/in"},
            permissions={"send_http": [{"url": "param:endpoint"}]},
        )
    )
    assert refused.error is not None
    assert refused.error.kind == "permission"


@pytest.mark.parametrize(("allow", "kind"), [(True, None), (False, "permission")])
def test_plain_http_only_to_loopback_when_allowed(allow: bool, kind: str | None) -> None:
    harness = Harness(TemplateRuntime(allow_http_loopback=allow))
    result = harness.run(
        "send_http{url = 'http://127.0.0.1:8080/in'}",
        permissions={"send_http": [{"url": "http://127.0.0.1:8080/in"}]},
    )
    assert (result.error.kind if result.error else None) == kind


def test_plain_http_to_another_host_is_refused_even_when_loopback_is_allowed() -> None:
    harness = Harness(TemplateRuntime(allow_http_loopback=True))
    result = harness.run(
        "send_http{url = 'http://hooks.example/in'}",
        permissions={"send_http": [{"url": "http://hooks.example/in"}]},
    )
    assert result.error is not None
    assert result.error.kind == "permission"


# --- pixel ----------------------------------------------------------------------------


def test_pixel_output(harness: Harness) -> None:
    result = harness.run(
        'pixel{vendor = "meta", command = "track", args = {"Lead", {value = 50}}}'
        ' pixel{vendor = "meta", command = "init"}',
        permissions={"pixel": ["meta"]},
    )
    assert result.error is None, result.error
    assert result.pixels == [
        {"vendor": "meta", "command": "track", "args": ["Lead", {"value": 50}]},
        {"vendor": "meta", "command": "init", "args": {}},
    ]


# --- hash, json, time -----------------------------------------------------------------


def test_hash_sha256_known_vectors(harness: Harness) -> None:
    source = 'log(hash.sha256("abc"), hash.sha256(""), hash.sha256("é"))'
    assert logs_of(harness, source) == [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
        + hashlib.sha256("é".encode()).hexdigest()
    ]


def test_json_round_trip(harness: Harness) -> None:
    source = r"""
    local value = {list = {1, 2.5, "three", true}, empty = {}, nested = {a = {b = {c = "d"}}},
                   text = "quote \" backslash \\ newline \n tab \t bell \7 é"}
    local text = json.encode(value)
    local back = json.decode(text)
    assert(back.list[3] == "three" and back.list[2] == 2.5 and back.nested.a.b.c == "d")
    assert(back.text == value.text and next(back.empty) == nil)
    log(text)
    log(json.encode(json.decode("[]")), json.encode({}), json.encode("x"), json.encode(nil))
    log(json.encode({9.99, 0.1 + 0.2, 2^53, -0.0, 1e300, 3}))
    log(tostring(json.decode("null")), json.decode("12"), json.decode('"s"'))
    """
    first, second, third, fourth = logs_of(harness, source)
    assert orjson.loads(first) == {
        "list": [1, 2.5, "three", True],
        "empty": {},
        "nested": {"a": {"b": {"c": "d"}}},
        "text": 'quote " backslash \\ newline \n tab \t bell \x07 é',
    }
    assert second == '{} {} "x" null'  # an empty table is an object
    assert third == "[9.99,0.30000000000000004,9007199254740992,-0,1e+300,3]"
    assert fourth == "nil 12 s"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{1, nil, 3}", "mixes list and object keys"),
        ("{[true] = 1}", "table keys must be strings"),
        ("{x = 0/0}", "numbers must be finite"),
        ("function() end", "a function cannot be encoded"),
    ],
)
def test_json_encode_refuses_what_json_cannot_hold(
    harness: Harness, value: str, message: str
) -> None:
    error = error_of(harness, f"json.encode({value})")
    assert error.kind == "runtime"
    assert message in error.message


def test_time_now_ms_comes_from_the_hit(harness: Harness) -> None:
    bound = harness.bind("log(time.now_ms(), math.type(time.now_ms()))", permissions=LOGGING)
    assert harness.execute(bound, now_ms=1234).logs == ["1234 integer"]
    assert harness.execute(bound).logs == [f"{NOW_MS} integer"]


UTC_SOURCE = """
local t = time.utc(params.ms)
log(t.year, t.month, t.day, t.hour, t.min, t.sec, t.ms)
"""
UTC_PARAMS = {"ms": {"type": "integer", "required": True}}


@pytest.mark.parametrize(
    "ms",
    [0, 951_782_400_000, 1_709_164_799_999, 1_763_900_000_123, 4_102_444_800_000,
     253_402_300_799_999],
)  # fmt: skip
def test_time_utc_matches_the_calendar(harness: Harness, ms: int) -> None:
    bound = harness.bind(UTC_SOURCE, params=UTC_PARAMS, values={"ms": ms},
                         permissions=LOGGING)  # fmt: skip
    when = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    expected = [when.year, when.month, when.day, when.hour, when.minute, when.second, ms % 1000]
    assert harness.execute(bound).logs == [" ".join(map(str, expected))]


# One runtime serving many executions is how a node uses it, so the fixture is shared.
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ms=st.integers(min_value=0, max_value=253_402_300_799_999))
def test_time_utc_agrees_with_python_for_any_time(harness: Harness, ms: int) -> None:
    test_time_utc_matches_the_calendar(harness, ms)


@pytest.mark.parametrize("value", ["-1", "1.5", "'1'", "253402300800000", "nil"])
def test_time_utc_refuses_what_is_not_a_time(harness: Harness, value: str) -> None:
    error = error_of(harness, f"time.utc({value})")
    assert error.kind == "runtime"
    assert "time.utc takes whole milliseconds" in error.message


# --- secret ---------------------------------------------------------------------------

SECRET_PARAMS = {"token": {"type": "secret", "required": True}}


def test_secret_resolves_through_the_node(harness: Harness) -> None:
    source = 'log(secret("token"))'
    meta = {"params": SECRET_PARAMS, "permissions": {"secrets": ["token"]}}
    assert logs_of(harness, source, values={"token": "meta_token"}, **meta) == [
        SECRETS["meta_token"]
    ]


def test_a_secret_missing_on_the_node_is_a_runtime_error(harness: Harness) -> None:
    source = 'local ok, err = pcall(secret, "token") log(ok, err) secret("token")'
    result = harness.run(
        source,
        params=SECRET_PARAMS,
        values={"token": "absent"},
        permissions={"secrets": ["token"], **LOGGING},
    )
    assert result.error is not None
    assert (result.error.kind, result.error.message) == (
        "runtime",
        "t:1: secret 'absent' is not configured on this node",
    )


# --- log, fail --------------------------------------------------------------------------


def test_log_formats_each_argument(harness: Harness) -> None:
    source = 'log("a", 1, 1.5, true, nil, {}, function() end) log() log("é")'
    assert logs_of(harness, source) == ["a 1 1.5 true nil table function", "", "é"]


def test_long_log_lines_are_cut_on_a_character_boundary(harness: Harness) -> None:
    logs = logs_of(harness, "log('a' .. ('é'):rep(100))", limits={"max_log_bytes": 10})
    assert logs == ["aéééé…"]  # 9 bytes: a fifth 'é' would split at byte 10


def test_fail_ends_the_run_with_the_reason(harness: Harness) -> None:
    assert error_of(harness, "fail('no consent')").message == "template failed: no consent"
    assert error_of(harness, "fail({})").message == "template failed: table"


# --- bind -----------------------------------------------------------------------------


def test_bind_reports_bad_params_and_syntax(harness: Harness) -> None:
    with pytest.raises(TemplateError) as caught:
        harness.bind("", params={"n": {"type": "integer", "required": True}}, values={"n": "x"})
    assert (caught.value.kind, caught.value.message) == ("params", "n: must be a whole number")
    with pytest.raises(TemplateError) as caught:
        harness.bind("local = 1")
    assert caught.value.kind == "syntax"
    assert caught.value.message.startswith("t:1:")


def test_bind_accepts_integers_beyond_64_bits_in_event_data(harness: Harness) -> None:
    event = {"event": "x", "data": {"big": 2**64 - 1, "small": -(2**63)}}
    source = "local d = event.get('data') log(math.type(d.big), math.type(d.small))"
    bound = harness.bind(source, permissions={"read_event_data": ["data.*"], **LOGGING})
    assert harness.execute(bound, event=event).logs == ["float integer"]


# --- limits ---------------------------------------------------------------------------


def test_limit_overrides_are_clamped_to_the_caps() -> None:
    huge = {name: 10**12 for name in LIMIT_NAMES}
    assert limits_from_manifest(huge) == CAPS
    assert limits_from_manifest({}) == DEFAULTS
    assert limits_from_manifest({"max_requests": 2}).max_requests == 2
    assert package("", limits={"instructions": 10**12}).limits.instructions == CAPS.instructions


def test_a_lower_limit_in_the_manifest_applies(harness: Harness) -> None:
    loop = "local n = 0 for i = 1, 20000 do n = n + i end"
    assert harness.run(loop).error is None
    error = error_of(harness, loop, limits={"instructions": 10_000})
    assert (error.kind, error.message) == (
        "budget",
        "cost: needs more than the budget of 10000 units",
    )
    error = error_of(harness, "log(1) log(2) log(3)", permissions=LOGGING, limits={"max_logs": 2})
    assert (error.kind, error.message) == ("limit", "logs: more than 2 log lines")


def test_a_higher_limit_in_the_manifest_applies(harness: Harness) -> None:
    loop = "local n = 0 for i = 1, 1000000 do n = n + i end"
    assert error_of(harness, loop).kind == "budget"
    assert harness.run(loop, limits={"instructions": 10**7}).error is None


# --- Sustained use --------------------------------------------------------------------

FAILING = [
    ("runtime", "error('boom')"),
    ("runtime", "local t = nil; t.x = 1"),
    ("permission", "event.get('user.em')"),
    ("permission", "log('no grant')"),
    ("budget", "while true do end"),
    ("budget", "local s = ('x'):rep(2^30)"),
    ("limit", "local s = ('x'):rep(1024):rep(2^14)"),  # memory, with the budget below
    ("limit", "local function f() return 1 + f() end f()"),
    ("limit", "for i = 1, 11 do pixel{vendor = 'meta', command = 'x'} end"),
    ("runtime", "fail('stop')"),
    ("runtime", "pixel{vendor = 'meta', command = '\\255'}"),
]


def test_the_runtime_stays_usable_after_200_failures_in_a_row(harness: Harness) -> None:
    permissions = {"read_event_data": ["event"], "pixel": ["meta"]}
    limits = {"instructions": 10_000_000}
    bound = [
        (kind, harness.bind(source, key=f"c1/fail{i}", permissions=permissions, limits=limits))
        for i, (kind, source) in enumerate(FAILING)
    ]
    for i in range(200):
        kind, tag = bound[i % len(bound)]
        result = harness.execute(tag)
        assert result.error is not None
        assert result.error.kind == kind, (i, result.error)
    harness.assert_healthy()


def test_memory_stays_bounded_over_2000_executions(harness: Harness) -> None:
    permissions = {"read_event_data": ["event", "data.*"], "pixel": ["meta"], **LOGGING}
    ok = harness.bind(
        "local d = event.get('data') d.copy = ('x'):rep(1000) pixel{vendor = 'meta',"
        " command = 'track', args = {d.value, d.items}} log(event.get('event'))",
        key="c1/ok",
        permissions=permissions,
    )
    bomb = harness.bind("local t = {} for i = 1, 1e7 do t[i] = i end", key="c1/bomb")
    lua = harness.runtime._lua
    for _ in range(50):  # warm up caches (compiled code, checked keys)
        harness.execute(ok)
    lua.gccollect()
    baseline = lua.get_memory_used()
    for i in range(2000):
        result = harness.execute(bomb if i % 100 == 0 else ok)
        assert (result.error is None) == (i % 100 != 0)
    assert lua.get_memory_used() < baseline + 4 * 1024 * 1024
    lua.gccollect()
    assert lua.get_memory_used() < baseline + 64 * 1024


def test_without_wall_clock_only_the_deterministic_limits_apply() -> None:
    harness = Harness(TemplateRuntime(wall_clock=False, deadline_ms=1))
    busy = "local n = 0 for i = 1, 200000 do n = n + i end log(n)"
    # a 1 ms deadline, which this loop overruns on a machine like this one, is not enforced ...
    result = harness.run(busy, permissions=LOGGING)
    assert result.error is None, result.error
    assert result.logs == ["20000100000"]
    # ... while the cost budget still stops an endless loop
    error = error_of(harness, "while true do end")
    assert error.kind == "budget"
    assert error.message == "cost: needs more than the budget of 1000000 units"


def test_the_deadline_is_a_safety_net_with_a_kind_of_its_own() -> None:
    # 10 M units of instructions take far longer than 1 ms on any machine
    harness = Harness(TemplateRuntime(deadline_ms=1))
    error = error_of(harness, "while true do end", limits={"instructions": 10_000_000})
    assert (error.kind, error.message) == ("deadline", "ran longer than the wall-clock safety net")
    harness.assert_healthy()


def test_a_host_call_past_the_deadline_stops_the_run_at_once() -> None:
    # a deadline of 0 has passed by the first host call; the hook, 1,000 instructions
    # later, would never see this run
    harness = Harness(TemplateRuntime(deadline_ms=0))
    error = error_of(harness, "local h = hash.sha256('x') log(h)", permissions=LOGGING)
    assert (error.kind, error.message) == ("deadline", "ran longer than the wall-clock safety net")
    assert Harness(TemplateRuntime()).run("local h = hash.sha256('x')").error is None


def test_the_deadline_in_a_manifest_no_longer_applies(harness: Harness) -> None:
    # deadline_ms is still accepted (older manifests load) but the node's safety net rules
    busy = "local n = 0 for i = 1, 200000 do n = n + i end"
    assert harness.run(busy, limits={"deadline_ms": 1}).error is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("local x = 1\nerror('boom')", "t:2: boom"),
        ("local function f()\n  error('inner')\nend\nf()", "t:2: inner"),
        ("local function f()\n  error('caller', 2)\nend\n\nf()", "t:5: caller"),
        ("error('bare', 0)", "bare"),
    ],
)
def test_error_points_at_the_templates_line(harness: Harness, source: str, message: str) -> None:
    """The dead-letter reason an operator reads must name the template's line, not the
    sandbox wrapper's."""
    failure = error_of(harness, source)
    assert (failure.kind, failure.message) == ("runtime", message)
