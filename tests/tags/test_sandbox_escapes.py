"""Escape attempts against the template sandbox (docs/lua-sandbox.md §2, §6.4).

Every attack must fail with the right error kind, and the same runtime must then run a
normal template correctly. Runaways (loops, memory bombs, deep recursion) run in-process on
purpose: the sandbox itself has to stop them, and the module timeout is only a backstop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tags.errors import TemplateError
from tags.package import TemplatePackage, package_from_metadata
from tests.tags.harness import EVENT, Harness

# The thread method ends the whole session: a regression here can wedge a worker inside C,
# where the signal method's handler would never run.
pytestmark = pytest.mark.timeout(60, method="thread")

ALLOWED = "https://allowed.example/api/*"
EVERYTHING: dict[str, Any] = {
    "read_event_data": ["event", "data.*"],
    "get_cookies": ["_fbp"],
    "set_cookies": ["_fbp"],
    "send_http": [{"url": ALLOWED, "methods": ["POST", "GET"]}],
    "pixel": ["meta"],
    "logging": True,
}
# Attacks run with the default cost budget; the wall-clock deadline is a node-wide safety
# net (1.5 s) far above what the budget lets a template do, so it never trips first here.
SLOW_CI: dict[str, int] = {}
# Room in the budget for attacks aimed at another limit (memory, output) to reach it.
BIG_BUDGET = {"instructions": 10_000_000}
MIB_16 = "string.rep(('x'):rep(1024), 2^14)"  # 16 MiB for ~2.1 M units: a memory bomb


@dataclass(frozen=True)
class Attack:
    id: str
    source: str
    kind: str
    fragment: str = ""
    permissions: dict[str, Any] = field(default_factory=lambda: EVERYTHING)
    limits: dict[str, int] = field(default_factory=lambda: SLOW_CI)


def _removed(name: str, call: str, fragment: str) -> Attack:
    return Attack(f"removed {name}", call, "runtime", fragment)


REMOVED_FUNCTIONS = [
    "load", "loadstring", "dofile", "loadfile", "require", "collectgarbage", "setmetatable",
    "getmetatable", "print", "rawset",
]  # fmt: skip
REMOVED_LIBRARIES = ["io", "os", "debug", "package", "python", "coroutine"]
REMOVED_STRING = ["dump", "gsub", "match", "gmatch"]


def _send(url: str, method: str = "POST") -> str:
    return f"send_http{{url = {url!r}, method = {method!r}, body = 'x'}}"


ATTACKS: list[Attack] = [
    *[_removed(n, f"{n}('x')", f"global '{n}'") for n in REMOVED_FUNCTIONS],
    *[_removed(n, f"{n}.open('x')", f"global '{n}'") for n in REMOVED_LIBRARIES],
    *[_removed(f"string.{n}", f"string.{n}('x', 'y')", f"field '{n}'") for n in REMOVED_STRING],
    Attack("getmetatable of a string", "local mt = getmetatable('')", "runtime",
           "global 'getmetatable'"),
    Attack("dump through the string metatable", "local d = ('x').dump; d(print)", "runtime",
           "local 'd'"),
    Attack("gsub as a string method", "('x'):gsub('x', 'y')", "runtime", "method 'gsub'"),
    Attack("match as a string method", "('x'):match('.*')", "runtime", "method 'match'"),
    Attack("overwrite string.upper", "string.upper = function() return 'evil' end", "runtime",
           "string is read-only"),
    Attack("overwrite the string metatable index", "string.__index = {}", "runtime",
           "string is read-only"),
    Attack("insert into the string library", "table.insert(string, print)", "runtime",
           "string is read-only"),
    Attack("overwrite an API table", "event.get = function() return 'x' end", "runtime",
           "event is read-only"),
    Attack("overwrite math", "math.floor = nil", "runtime", "math is read-only"),
    Attack("assign into a string value", "local s = 'x'; s.upper = print", "runtime",
           "attempt to index a string value"),
    Attack("protected env metatable", "setmetatable(_ENV, nil)", "runtime",
           "global 'setmetatable'"),
    Attack("string.rep memory bomb", f"local s = {MIB_16}", "limit", "memory",
           limits=BIG_BUDGET),
    Attack("string.rep of 2^30 bytes", "local s = string.rep('x', 2^30)", "budget", "cost"),
    Attack("concatenation memory bomb",
           "local s = ('x'):rep(1024):rep(2^12); local t = s .. s .. s", "limit", "memory"),
    Attack("table-growth memory bomb",
           "local t, i = {}, 0 while true do i = i + 1; t[i] = {i, i, i, i, i, i, i, i} end",
           "limit", "memory", limits={"instructions": 10_000_000, "deadline_ms": 500}),
    # lupa deadlocked when a memory error hit while it converted a host call's result
    Attack("json.decode results filling memory",
           "local big = '\"' .. ('x'):rep(1000):rep(200) .. '\"' local keep = {}"
           " while true do keep[#keep + 1] = json.decode(big) end", "limit", "memory",
           limits={**BIG_BUDGET, "memory_bytes": 2 << 20}),
    Attack("memory limit back after a host call",
           f"local v = json.decode('[1]') local s = {MIB_16}", "limit", "memory",
           limits=BIG_BUDGET),
    Attack("json.decode of 80000 empty arrays",
           "local p = {} for i = 1, 80000 do p[i] = '[]' end"
           " json.decode('[' .. table.concat(p, ',') .. ']')", "limit", "memory",
           limits=BIG_BUDGET),
    Attack("hash.sha256 results filling memory",
           "local keep = {} while true do keep[#keep + 1] = hash.sha256('x' .. #keep) end",
           "limit", "", limits={**BIG_BUDGET, "memory_bytes": 1 << 20}),
    # host work runs no VM instruction: each host call is charged before it runs
    Attack("json.decode in a loop",
           "local p = {} for i = 1, 20000 do p[i] = '[]' end"
           " local doc = '[' .. table.concat(p, ',') .. ']'"
           " while true do pcall(json.decode, doc) end", "budget", "cost"),
    Attack("while true do end", "while true do end", "budget", "cost",),
    Attack("numeric for loop to 1e12", "local n = 0 for i = 1, 1e12 do n = n + i end", "budget",
           "cost"),
    Attack("loop inside pcall, retried forever",
           "while true do pcall(function() while true do end end) end", "budget", "cost",),
    Attack("xpcall with a looping handler",
           "xpcall(function() while true do end end, function() while true do end end)",
           "budget", "cost"),
    Attack("xpcall handler looping after a plain error",
           "xpcall(function() error('x') end, function() while true do end end)", "budget",
           "cost"),
    Attack("table.sort comparator loop",
           "table.sort({3, 2, 1}, function(a, b) while true do end end)", "budget",
           "cost"),
    Attack("deep recursion", "local function f(n) return 1 + f(n + 1) end f(1)", "limit",
           "depth"),
    Attack("recursion through pcall", "local function f() return pcall(f) end f()", "limit",
           "depth"),
    Attack("recursion through table.sort",
           "local function f() table.sort({2, 1}, function(a, b) f() return a < b end) end f()",
           "limit", "depth"),
    Attack("quadratic plain find",
           "local s = ('a'):rep(2^10):rep(2^10); local r = s:find(('a'):rep(2^19) .. 'b')",
           "runtime", "too long to search together"),
    Attack("quadratic split",
           "local s = ('a'):rep(2^10):rep(2^10); string.split(s, ('a'):rep(2^19) .. 'b')",
           "runtime", "too long to search together"),
    Attack("coroutine.wrap loop", "coroutine.wrap(function() while true do end end)()",
           "runtime", "global 'coroutine'"),
    Attack("yield from the top level", "coroutine.yield()", "runtime", "global 'coroutine'"),
    Attack("error object with a function inside", "error({f = function() end})", "runtime",
           "error object of type table"),
    Attack("error object that is a function", "error(function() end)", "runtime",
           "error object of type function"),
    Attack("to-be-closed string", "local x <close> = 'str'", "runtime", "non-closable value"),
    Attack("pcall catches a permission violation and continues",
           "local ok = pcall(event.get, 'user.em') log('continued', ok)", "permission",
           "read_event_data does not allow 'user.em'"),
    Attack("xpcall catches a permission violation",
           "xpcall(cookies.get, function(e) return e end, '_ga') log('continued')",
           "permission", "get_cookies does not allow '_ga'"),
    Attack("fail() inside pcall", "pcall(fail, 'nope') log('continued')", "runtime",
           "template failed: nope"),
    Attack("event key not in the manifest", "event.get('user.em')", "permission",
           "read_event_data does not allow 'user.em'"),
    Attack("event key next to a granted prefix", "event.get('database')", "permission",
           "does not allow 'database'"),
    Attack("cookie get not in the manifest", "cookies.get('_ga')", "permission",
           "get_cookies does not allow '_ga'"),
    Attack("cookie set not in the manifest", "cookies.set('session', 'x')", "permission",
           "set_cookies does not allow 'session'"),
    Attack("pixel vendor not granted", "pixel{vendor = 'tiktok', command = 'track'}",
           "permission", "pixel does not allow vendor 'tiktok'"),
    Attack("secret not named in the manifest", "secret('meta_token')", "permission",
           "secrets does not allow 'meta_token'"),
    Attack("log without the grant", "log('hello')", "permission", "logging is not granted",
           permissions={}),
    Attack("send_http without the grant", _send("https://allowed.example/api/x"), "permission",
           "not allowed by the manifest", permissions={}),
    Attack("too many send_http calls",
           f"for i = 1, 11 do {_send('https://allowed.example/api/x')} end", "limit",
           "requests: more than 10"),
    Attack("too many pixels", "for i = 1, 11 do pixel{vendor = 'meta', command = 'x'} end",
           "limit", "pixels: more than 10"),
    Attack("too many log lines", "for i = 1, 21 do log(i) end", "limit", "logs: more than 20"),
    Attack("body over max_body_bytes",
           "send_http{url = 'https://allowed.example/api/x', body = ('x'):rep(262145)}",
           "limit", "body: request body over 262144 bytes", limits=BIG_BUDGET),
    Attack("multi-byte body over max_body_bytes",
           "send_http{url = 'https://allowed.example/api/x', body = ('é'):rep(131073)}",
           "limit", "body: request body over 262144 bytes", limits=BIG_BUDGET),
    Attack("output over max_output_bytes",
           "for i = 1, 3 do pixel{vendor = 'meta', command = 'x',"
           " args = {('x'):rep(1000):rep(200)}} end",
           "limit", "output: more than 524288 bytes", limits=BIG_BUDGET),
    Attack("reserved header",
           "send_http{url = 'https://allowed.example/api/x', headers = {Host = 'evil.example'}}",
           "permission", "set by tagwire itself"),
    Attack("header name that is not a token",
           "send_http{url = 'https://allowed.example/api/x', headers = {['x a'] = '1'}}",
           "runtime", "not a valid HTTP token"),
    Attack("header value smuggling a second header",
           "send_http{url = 'https://allowed.example/api/x',"
           " headers = {['x-a'] = '1\\r\\nx-b: 2'}}", "runtime", "printable ASCII"),
    Attack("url with userinfo", _send("https://allowed.example@evil.example/api/x"),
           "permission", "userinfo"),
    Attack("url host in upper case", _send("HTTPS://EVIL.EXAMPLE/api/x"), "permission",
           "not allowed by the manifest: https://evil.example/api/x"),
    Attack("url host with a trailing dot", _send("https://allowed.example.evil.example./api/x"),
           "permission", "not allowed by the manifest: https://allowed.example.evil.example/"),
    Attack("url host as an IDN look-alike", _send("https://\u0430llowed.example/api/x"),
           "permission", "not allowed by the manifest: https://xn--llowed-"),
    Attack("url host in punycode", _send("https://xn--llowed-2nf.example/api/x"), "permission",
           "not allowed by the manifest"),
    Attack("url with an explicit other port", _send("https://allowed.example:8443/api/x"),
           "permission", "https://allowed.example:8443/api/x"),
    Attack("url with a percent-encoded host", _send("https://allowed%2Eexample/api/x"),
           "permission", "percent-encoded"),
    Attack("url with a backslash", _send("https://allowed.example\\@evil.example/api/x"),
           "permission", "backslashes"),
    Attack("url host changed by NFKC", _send("https://allowed.example\uff0f@evil.example/"),
           "permission", "cannot be parsed"),
    Attack("url host as a bare number", _send("https://2130706433/api/x"), "permission",
           "reads as a number"),
    Attack("plain http when not allowed", _send("http://allowed.example/api/x"), "permission",
           "needs https"),
    Attack("../ past the allowed prefix", _send("https://allowed.example/api/../admin"),
           "permission", "path segments"),
    Attack("encoded ../ past the allowed prefix",
           _send("https://allowed.example/api/%2E%2e/admin"), "permission", "path segments"),
    Attack("..; past the allowed prefix", _send("https://allowed.example/api/..;/admin"),
           "permission", "path segments"),
    Attack("encoded slashes around ..", _send("https://allowed.example/api/x%2F..%2F..%2Fadmin"),
           "permission", "path segments"),
    Attack("IPv6 literal host", _send("https://[::1]/api/x"), "permission",
           "not allowed by the manifest: https://[::1]/api/x"),
    Attack("method the grant does not list", _send("https://allowed.example/api/x", "DELETE"),
           "permission", "method DELETE not allowed"),
    Attack("invalid UTF-8 into a host API", "hash.sha256('\\255')", "runtime",
           "must be UTF-8 text"),
    Attack("invalid UTF-8 in a log line", "log('\\255')", "runtime",
           "output: strings must be UTF-8 text"),
    Attack("invalid UTF-8 in an error message", "error('bad \\255 byte')", "runtime",
           "bad ? byte"),
    Attack("huge error message", "error(('x'):rep(2^10):rep(2^10))", "runtime", "xxxx"),
    # charged before the C function runs: it never gets to refuse the size itself
    # refused before the C function runs: Lua's own stack would overflow near 1e6 values
    Attack("table.unpack of 1e8 values", "local t = {table.unpack({}, 1, 1e8)}", "limit",
           "unpack: more than 65536 values at once"),
    Attack("string.byte of a whole 1 MiB string",
           "local n = select('#', (('x'):rep(1024):rep(1024)):byte(1, -1))", "limit",
           "string.byte: more than 65536 values at once"),
    Attack("utf8.codepoint of a whole 1 MiB string",
           "local n = select('#', utf8.codepoint(('x'):rep(1024):rep(1024), 1, -1))", "limit",
           "utf8.codepoint: more than 65536 values at once"),
    # varargs kept in 40 frames: Lua's stack overflows, a resource limit quarantine counts
    Attack("Lua stack overflow through varargs",
           "local t = {} for i = 1, 60000 do t[i] = i end "
           "local function f(n, ...) if n > 40 then return select('#', ...) end "
           "local x = f(n + 1, ...) return x end f(1, table.unpack(t))", "limit",
           "stack overflow", limits={"instructions": 10_000_000, "memory_bytes": 32 << 20}),
    Attack("string.rep over the size limit", "local s = ('x'):rep(1e5, ('y'):rep(1e5))",
           "budget", "cost"),
    Attack("json.encode of a cycle", "local t = {}; t.t = t; json.encode(t)", "runtime",
           "nested deeper"),
    Attack("pixel args with a cycle", "local t = {}; t.t = t; pixel{vendor = 'meta', "
           "command = 'x', args = t}", "runtime", "nested too deeply"),
]  # fmt: skip


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_fails_and_the_runtime_stays_healthy(harness: Harness, attack: Attack) -> None:
    result = harness.run(attack.source, permissions=attack.permissions, limits=attack.limits)
    assert result.error is not None, f"the attack succeeded: {result}"
    assert (result.error.kind, attack.fragment in result.error.message) == (attack.kind, True), (
        result.error
    )
    assert (result.requests, result.pixels, result.logs, result.cookies) == ([], [], [], [])
    assert len(result.error.message.encode()) < 2100  # operators' logs stay readable
    harness.assert_healthy()


def test_the_escape_table_is_large_enough() -> None:
    assert len(ATTACKS) >= 35
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)


# --- Bytecode -------------------------------------------------------------------------


BYTECODE = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n"


def test_bytecode_is_refused_by_the_package() -> None:
    package, problems = package_from_metadata({"name": "t"}, BYTECODE)
    assert package is None
    assert problems == [("lua", "precompiled Lua bytecode is not accepted; send source text")]


@pytest.mark.parametrize("source", [BYTECODE, "\n" + BYTECODE], ids=["leading", "after newline"])
def test_bytecode_is_refused_by_the_runtime(harness: Harness, source: str) -> None:
    # a package built without package_from_metadata must not get past the compiler either
    valid, _ = package_from_metadata({"name": "t"}, "")
    assert valid is not None
    smuggled = TemplatePackage(**{**_fields(valid), "source": source})
    with pytest.raises(TemplateError) as caught:
        harness.runtime.bind("c1/tag", smuggled, {})
    assert caught.value.kind == "syntax"
    harness.assert_healthy()


def _fields(package: TemplatePackage) -> dict[str, Any]:
    return {name: getattr(package, name) for name in package.__dataclass_fields__}


# --- Runaways that must complete -------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        # Lua patterns backtrack exponentially in C; find is plain, so this is a quick nil
        "local s = ('a'):rep(5000); assert(string.find(s, ('a*'):rep(16) .. 'b') == nil)",
        "assert(('a.b'):find('.') == 2 and ('a%b'):find('%') == 2)",
        # rep('', n) used to loop n times in C, unstoppable
        "assert(('').rep('', 2^53) == '' and string.rep('', 1e15, '') == '')",
        "assert(('ab'):rep(3, ',') == 'ab,ab,ab')",
        # a short needle in a long text stays allowed
        "local s = ('a'):rep(2^16); assert(s:find('ab') == nil and s:find('a', 5) == 5)",
    ],
    ids=[
        "magic characters are plain",
        "plain dot and percent",
        "empty rep",
        "rep separator",
        "short needle",
    ],
)
def test_string_searches_are_plain_and_complete(harness: Harness, source: str) -> None:
    result = harness.run(source)
    assert result.error is None, result.error
    harness.assert_healthy()


# --- Isolation ------------------------------------------------------------------------


POISON = """
pcall(function() string.upper = function() return "evil" end end)
pcall(function() string.__index = {upper = function() return "evil" end} end)
pcall(function() table.insert(string, "evil") end)
pcall(function() math.pi = 3 end)
pcall(function() event.get = function() return "evil" end end)
pcall(function() json.encode = nil end)
string = {upper = function() return "evil" end}
tostring = function() return "evil" end
event = nil
_ENV.params = nil
leaked = "yes"
fail("poisoned")
"""

PRISTINE = """
assert(("abc"):upper() == "ABC" and string.upper("x") == "X", "string library poisoned")
assert(math.pi > 3.14, "math poisoned")
assert(tostring(1) == "1", "tostring poisoned")
assert(event.get("event") == "lead", "event API poisoned")
assert(json.encode({1}) == "[1]", "json poisoned")
assert(leaked == nil, "a global leaked")
assert(type(params) == "table", "params gone")
log("pristine")
"""


def test_poisoning_shared_libraries_does_not_reach_another_template(harness: Harness) -> None:
    poisoned = harness.run(POISON, key="c1/a", permissions=EVERYTHING)
    assert poisoned.error is not None
    assert poisoned.error.message == "template failed: poisoned"
    result = harness.run(PRISTINE, key="c1/b", permissions=EVERYTHING)
    assert (result.error, result.logs) == (None, ["pristine"])


def test_a_global_set_in_one_run_is_gone_in_the_next(harness: Harness) -> None:
    bound = harness.bind(
        "log(type(counter)) counter = (counter or 0) + 1 string_copy = string",
        permissions={"logging": True},
    )
    assert [harness.execute(bound).logs for _ in range(3)] == [["nil"]] * 3


def test_two_tags_do_not_share_state_or_grants(harness: Harness) -> None:
    a = harness.bind("shared = 'a' log('a ran')", key="c1/a", permissions={"logging": True})
    b = harness.bind("log(type(shared))", key="c1/b", permissions={})
    assert harness.execute(a).logs == ["a ran"]
    result = harness.execute(b)
    assert result.error is not None
    assert result.error.kind == "permission"  # b has no logging grant


def test_two_containers_bind_the_same_template_with_their_own_params(harness: Harness) -> None:
    schema = {"url": {"type": "string", "format": "url", "required": True}}
    source = "send_http{url = params.url, body = 'x'}"
    permissions = {"send_http": [{"url": "param:url"}]}
    one = harness.bind(
        source,
        key="c1/tag",
        values={"url": "https://one.example/in"},
        params=schema,
        permissions=permissions,
    )
    two = harness.bind(
        source,
        key="c2/tag",
        values={"url": "https://two.example/in"},
        params=schema,
        permissions=permissions,
    )
    assert [r["url"] for r in harness.execute(one).requests] == ["https://one.example/in"]
    assert [r["url"] for r in harness.execute(two).requests] == ["https://two.example/in"]


def test_binding_a_key_again_leaves_the_first_binding_as_it_was(harness: Harness) -> None:
    """A config reload binds the same keys again while the old version still serves hits;
    the old tag keeps its own URL grant (the policy used to live in a per-key registry)."""
    schema = {"url": {"type": "string", "format": "url", "required": True}}
    source = "send_http{url = params.target or 'https://old.example/in', body = 'x'}"
    permissions = {"send_http": [{"url": "param:url"}]}
    old = harness.bind(
        source, values={"url": "https://old.example/in"}, params=schema, permissions=permissions
    )
    harness.bind(
        source, values={"url": "https://new.example/in"}, params=schema, permissions=permissions
    )
    result = harness.execute(old)
    assert result.error is None, result.error
    assert [r["url"] for r in result.requests] == ["https://old.example/in"]


def test_mutating_event_data_does_not_change_what_the_next_tag_sees(harness: Harness) -> None:
    permissions = {"read_event_data": ["data.*"], "logging": True}
    vandal = harness.bind(
        """
        local data = event.get("data")
        data.value = 0
        data.items[1].id = "changed"
        table.insert(data.items, {id = "new"})
        log(event.get("data.value"))
        """,
        key="c1/vandal",
        permissions=permissions,
    )
    reader = harness.bind(
        'local d = event.get("data") log(d.value, d.items[1].id, #d.items)',
        key="c1/reader",
        permissions=permissions,
    )
    context = harness.runtime.hit_context(EVENT, {}, 0)
    assert harness.runtime.execute(vandal, context).logs == ["50"]
    assert harness.runtime.execute(reader, context).logs == ["50 a 2"]


def test_mutating_params_does_not_leak_into_the_next_run(harness: Harness) -> None:
    bound = harness.bind(
        """
        log(params.names.lead, #params.ids)
        params.names.lead = "changed"
        table.insert(params.ids, "extra")
        params.added = true
        """,
        params={
            "names": {"type": "map", "default": {"lead": "Lead"}},
            "ids": {"type": "list", "default": ["a"]},
        },
        permissions={"logging": True},
    )
    assert [harness.execute(bound).logs for _ in range(2)] == [["Lead 1"], ["Lead 1"]]
    assert bound.params == {"names": {"lead": "Lead"}, "ids": ["a"]}


# --- No Python object ever reaches Lua -----------------------------------------------


def test_api_functions_are_lua_functions_and_json_yields_tables(harness: Harness) -> None:
    source = """
    local function walk(v, path)
      assert(type(v) ~= "userdata", "userdata at " .. path)
      if type(v) == "table" then for k, x in pairs(v) do walk(x, path .. "." .. tostring(k)) end end
    end
    for _, f in ipairs({event.get, cookies.get, cookies.set, send_http, pixel, hash.sha256,
                        json.encode, json.decode, time.now_ms, secret, log, fail}) do
      assert(type(f) == "function", "not a function")
    end
    local decoded = json.decode('{"a": {"b": [1, {"c": [true, "x", 1.5, null]}]}, "d": []}')
    walk(decoded, "json")
    walk(event.get("data"), "event")
    walk(params, "params")
    assert(type(decoded.a.b[2].c) == "table" and decoded.a.b[2].c[2] == "x")
    assert(type(json.decode("18446744073709551615")) == "number")  -- beyond 64 bits
    log(type(event.get), type(json.decode("[]")))
    """
    result = harness.run(
        source, permissions=EVERYTHING, params={"m": {"type": "map", "default": {"k": "v"}}}
    )
    assert (result.error, result.logs) == (None, ["function table"])


def test_every_error_a_template_can_catch_is_a_string(harness: Harness) -> None:
    source = r"""
    local cyclic = {}; cyclic.self = cyclic
    local calls = {
      function() return event.get(5) end,
      function() return event.get("\255") end,
      function() return cookies.get({}) end,
      function() return cookies.set("_fbp", 5) end,
      function() return cookies.set("_fbp", "v", {max_age = 1.5}) end,
      function() return send_http(5) end,
      function() return send_http{url = 5} end,
      function() return send_http{url = "https://allowed.example/api/\255"} end,
      function() return send_http{url = "https://allowed.example/api/x", headers = 5} end,
      function() return send_http{url = "https://allowed.example/api/x", body = function() end} end,
      function() return pixel(5) end,
      function() return pixel{vendor = "meta", command = "x", args = 5} end,
      function() return hash.sha256(nil) end,
      function() return hash.sha256("\255") end,
      function() return json.decode(5) end,
      function() return json.decode("\255") end,
      function() return json.decode("{bad") end,
      function() return json.decode("1e400") end,
      function() return json.encode(function() end) end,
      function() return json.encode(cyclic) end,
      function() return json.encode(0/0) end,
      function() return secret(nil) end,
      function() return secret("missing") end,
      function() return string.split("a", "") end,
      function() return ("x"):rep({}) end,
    }
    for i, call in ipairs(calls) do
      local ok, err = pcall(call)
      assert(not ok, "call " .. i .. " succeeded")
      assert(type(err) == "string", "call " .. i .. " raised a " .. type(err))
    end
    log(#calls)
    """
    result = harness.run(
        source,
        permissions={**EVERYTHING, "secrets": ["missing"]},
        params={"missing": {"type": "secret", "default": "not-configured"}},
    )
    assert (result.error, result.logs) == (None, ["25"])


# --- Env audit ------------------------------------------------------------------------

# Every global and library member of Lua 5.1-5.4 and LuaJIT, lupa's `python`, and the
# names tagwire adds. Metatables are hidden from templates, so the env cannot be walked
# through __index; probing a complete list of candidates audits it instead.
LUA_GLOBALS = """
_G _VERSION _ENV assert collectgarbage dofile error gcinfo getfenv getmetatable ipairs load
loadfile loadstring module newproxy next pairs pcall print rawequal rawget rawlen rawset
require select setfenv setmetatable tonumber tostring type unpack warn xpcall
bit bit32 coroutine debug ffi io jit math os package python string table utf8
params event cookies send_http pixel hash json time secret log fail
"""
LUA_MEMBERS = {
    "string": "byte char dump find format gfind gmatch gsub len lower match pack packsize rep "
    "reverse sub unpack upper starts_with ends_with trim split replace",
    "table": "concat foreach foreachi getn insert maxn move pack remove setn sort unpack",
    "math": "abs acos asin atan atan2 ceil cos cosh deg exp floor fmod frexp huge ldexp log "
    "log10 max maxinteger min mininteger modf pi pow rad random randomseed sin sinh sqrt tan "
    "tanh tointeger type ult",
    "utf8": "char charpattern codepoint codes len offset",
    "event": "get all keys",
    "cookies": "get set all",
    "hash": "sha256 md5 sha1 hmac_sha256",
    "json": "encode decode null",
    "time": "now_ms sleep",
}
APPROVED = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
    "select", "tonumber", "tostring", "type", "unpack", "xpcall",
    "string", "table", "math", "utf8",
    "params", "event", "cookies", "send_http", "pixel", "hash", "json", "time", "secret", "log",
    "fail",
    "string.byte", "string.char", "string.find", "string.format", "string.len", "string.lower",
    "string.rep", "string.reverse", "string.sub", "string.upper", "string.starts_with",
    "string.ends_with", "string.trim", "string.split", "string.replace",
    "table.concat", "table.insert", "table.pack", "table.remove", "table.sort", "table.unpack",
    "math.abs", "math.ceil", "math.floor", "math.fmod", "math.huge", "math.max",
    "math.maxinteger", "math.min", "math.mininteger", "math.modf", "math.pi", "math.sqrt",
    "math.tointeger", "math.type",
    "utf8.char", "utf8.charpattern", "utf8.codepoint", "utf8.len", "utf8.offset",
    "event.get", "cookies.get", "cookies.set", "hash.sha256", "json.encode", "json.decode",
    "time.now_ms",
}  # fmt: skip

AUDIT = """
local present = {}
for _, name in ipairs(GLOBALS) do
  if _ENV[name] ~= nil then present[#present + 1] = name end
end
for library, names in pairs(MEMBERS) do
  local t = _ENV[library]
  if t ~= nil then
    for _, name in ipairs(names) do
      if t[name] ~= nil then present[#present + 1] = library .. "." .. name end
    end
  end
end
for _, name in ipairs(MEMBERS.string) do  -- string values index the same proxy
  assert(("x")[name] == string[name], "string method " .. name .. " differs")
end
table.sort(present)
log(table.concat(present, " "))
"""


def _lua_list(names: list[str]) -> str:
    return "{" + ", ".join(f'"{name}"' for name in names) + "}"


def test_the_env_holds_exactly_the_approved_names(harness: Harness) -> None:
    members = ", ".join(f"{lib} = {_lua_list(names.split())}" for lib, names in LUA_MEMBERS.items())
    source = (
        f"local GLOBALS = {_lua_list(LUA_GLOBALS.split())}\nlocal MEMBERS = {{{members}}}\n{AUDIT}"
    )
    result = harness.run(source, permissions={"logging": True}, limits={"max_log_bytes": 8192})
    assert result.error is None, result.error
    assert sorted(result.logs[0].split()) == sorted(APPROVED)
