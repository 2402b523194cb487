-- tagwire template sandbox, run once per LuaRuntime with the real globals.
-- It captures what the host needs (debug hooks, load), strips the real globals, and
-- returns the functions the Python side drives. Templates only ever see the tables built
-- here: an allow-list of base functions, read-only library proxies, and per-execution API.
local py_now, py_host_memory, py_sha256, py_json_decode, py_secret = ...

local sethook, getinfo, setupvalue = debug.sethook, debug.getinfo, debug.setupvalue
local load, pcall, xpcall, error, type, select, next = load, pcall, xpcall, error, type, select, next
local setmetatable, rawget, rawequal, tostring, tonumber = setmetatable, rawget, rawequal, tostring, tonumber
local pack, unpack, concat, str_find, str_sub, str_format =
  table.pack, table.unpack, table.concat, string.find, string.sub, string.format
local str_gsub, str_byte, str_len, str_rep, utf8_len = string.gsub, string.byte, string.len, string.rep, utf8.len
local math_type, tointeger = math.type, math.tointeger

-- Defence in depth: nothing dangerous stays reachable even from the real globals.
string.dump = nil
python = nil
package.loaded.python = nil
debug, io, os, package, require, dofile, loadfile, collectgarbage = nil, nil, nil, nil, nil, nil, nil, nil

local KILL = setmetatable({}, { __metatable = false })
local MEMORY_MESSAGE = "memory: allocated more than the memory budget"
local DEADLINE_MESSAGE = "ran longer than the wall-clock safety net"
local killed, kill_message = nil, nil       -- why the current execution was stopped
-- The cost budget (see docs/writing-templates.md): one unit per VM instruction, counted by
-- the hook in steps of HOOK_EVERY, plus what charge() takes up front for C work.
local HOOK_EVERY = 1000
-- The hook and charge() each add to a counter of their own: the hook can fire between
-- charge() reading and writing a shared one, and that update would be lost.
local counted, charged, budget_total, deadline, max_depth = 0, 0, 0, 0, 0
local run

local function budget_message()
  return "cost: needs more than the budget of " .. budget_total .. " units"
end

local function hook()
  if killed then
    -- Once killed, fail on every instruction, except inside the host's own run().
    if getinfo(2, "f").func == run then sethook(); return end
    error(KILL, 0)
  end
  counted = counted + HOOK_EVERY
  if counted + charged > budget_total then
    killed, kill_message = "budget", budget_message()
  elseif py_now() > deadline then
    killed, kill_message = "deadline", DEADLINE_MESSAGE
  elseif getinfo(max_depth, "l") then
    killed, kill_message = "limit", "depth: call stack deeper than allowed"
  end
  if killed then sethook(hook, "", 1); error(KILL, 0) end
end

-- Ends the execution for good: pcall inside the template cannot catch it.
local function stop(kind, message)
  killed, kill_message = kind, message
  sethook(hook, "", 1)
  error(KILL, 0)
end

-- Takes n units from the budget before the C work they pay for, so a call the budget
-- cannot pay for fails before it starts. Charges are computed from sizes known up front.
local function charge(n)
  if n > 0 then
    charged = charged + n
    if charged + counted > budget_total then stop("budget", budget_message()) end
  end
end
-- For hot paths that charge inline: charged = charged + n, then this when over.
local function over() stop("budget", budget_message()) end

-- What the C work costs, in units. One unit is one VM instruction; the rates below were
-- measured so that a unit of C work never takes longer than ~2 ns, about what a hooked
-- instruction takes (docs/writing-templates.md, "The cost budget", has the table).
local COPY = 3      -- bytes >> COPY: copying bytes (sub, rep, concat, format %s, error)
local SCAN = 1      -- bytes >> SCAN: a C loop over each byte (lower, upper, reverse, tonumber)
local VALUE = 4     -- per value a C function pushes or reads (unpack, pack, byte, codepoint)
local MOVE = 3      -- per table element table.insert/remove shifts
local COMPARE = 8   -- per comparison table.sort makes (n * log2 n of them)
local PATTERN = 8   -- per byte a Lua pattern is matched against (the encoder's escaping)
local FIND = 2      -- per byte of text a plain search looks at, plus the needle's width
local UTF8_CHAR = 16  -- per code point utf8.char encodes
local JSON_BYTE = 2   -- per byte json.decode parses and converts to Lua tables
local HOST_CALL = 200  -- per call of a host (Python) function, plus its bytes

-- The whole-number value of an optional argument, or nil when the C function would refuse it.
local function int(x, default)
  if x == nil then return default end
  return tointeger(x)
end

-- Bytes from i to j of a string of length l, as string.sub counts them (l if unknown).
local function span(l, i, j)
  i, j = tointeger(i), tointeger(j)
  if not i or not j then return l end
  if i < 0 then i = l + i + 1 end
  if i < 1 then i = 1 end
  if j < 0 then j = l + j + 1 elseif j > l then j = l end
  return j >= i and j - i + 1 or 0
end

local function slen(s) return type(s) == "string" and #s or 0 end

local function rethrow_if_stopped(ok, err)
  if killed then error(KILL, 0) end
  if not ok and err == "not enough memory" then error(err, 0) end
end

local function safe_pcall(f, ...)
  local results = pack(pcall(f, ...))
  rethrow_if_stopped(results[1], results[2])
  if results.n > 16 then charge(results.n * VALUE) end
  return unpack(results, 1, results.n)
end

local function safe_xpcall(f, handler, ...)
  local function guarded(e)
    if killed then return e end  -- the handler would run unhooked after a kill
    return handler(e)
  end
  local results = pack(xpcall(f, guarded, ...))
  rethrow_if_stopped(results[1], results[2])
  if results.n > 16 then charge(results.n * VALUE) end
  return unpack(results, 1, results.n)
end

local function readonly(name, t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error(name .. " is read-only", 2) end,
    __metatable = false,
  })
end

-- A copy of table t (callers pass tables only; values that are not tables are shared).
local function copy(t, depth)
  if depth > 32 then error("table nested too deeply", 0) end
  local out = {}
  for k, v in next, t do
    if type(v) == "table" then v = copy(v, depth + 1) end
    out[k] = v
  end
  return out
end

-- Cut to at most max bytes without splitting a UTF-8 sequence (the host decodes as UTF-8).
local function truncate(s, max)
  if #s <= max then return s end
  local cut = max
  while cut > 0 and str_byte(s, cut + 1) & 0xC0 == 0x80 do cut = cut - 1 end
  return str_sub(s, 1, cut) .. "…"
end

-- A plain search costs up to text × needle byte comparisons inside C, where the hook
-- cannot stop it (1 MiB × 512 KiB took 8 s): refuse searches that could take more than
-- a few milliseconds. Short needles in any text a template can hold stay allowed.
local FIND_WORK = 1 << 26
local function check_search(what, s, needle)
  local text, width = str_len(s), str_len(needle)
  if text * (width - 1) > FIND_WORK then
    error(what .. ": text and search string too long to search together", 3)
  end
  -- worst case: the needle's first byte at every position, then a compare of the rest
  charge(text * (FIND + (width >> 5)))
end

-- Plain-text string helpers: Lua patterns backtrack in C where no limit can stop them,
-- so find is always plain and match/gmatch/gsub are not offered.
-- The library functions a template can reach are wrapped to charge() for their C work;
-- functions whose work does not grow with their arguments (math, len, ...) are not.
local str_char, str_lower, str_upper, str_reverse =
  string.char, string.lower, string.upper, string.reverse

-- Bytes of the string arguments among the first n values of ... (format, log).
local function string_bytes(n, ...)
  local bytes = 0
  if n <= 8 then
    for i = 1, n do
      local v = (select(i, ...))
      if type(v) == "string" then bytes = bytes + #v end
    end
  else
    local args = pack(...)
    for i = 1, n do
      local v = args[i]
      if type(v) == "string" then bytes = bytes + #v end
    end
  end
  return bytes
end

-- Fast paths: work that cannot grow (one byte, a short string) is left to the call's
-- instructions, so the common per-character loops stay cheap. Still deterministic.
local SHORT = 64

-- Values one call may push onto the Lua stack (unpack, byte, codepoint). Lua's own stack
-- overflows near a million slots as a plain error a template could repeat forever; past
-- this the run stops as a `limit`, which quarantine counts.
local MAX_SPREAD = 65536

local function spread(n, what)
  if n > MAX_SPREAD then stop("limit", what .. ": more than " .. MAX_SPREAD .. " values at once") end
  charge(n * VALUE)
end

local safe_string = {
  len = string.len,
  byte = function(s, i, j)
    if j == nil then return str_byte(s, i) end  -- one value at most
    spread(span(slen(s), i or 1, j), "string.byte")
    return str_byte(s, i, j)
  end,
  char = function(...)
    local n = select("#", ...)
    if n > 8 then charge(n * VALUE) end
    return str_char(...)
  end,
  format = function(fmt, ...)
    local n = select("#", ...)
    -- numbers print into a bounded buffer; %q escapes byte by byte (~36 ns a byte)
    local bytes = slen(fmt) + string_bytes(n, ...)
    local quoting = type(fmt) == "string" and str_find(fmt, "q", 1, true)
    charge(n * VALUE + (quoting and bytes * 20 or bytes >> SCAN))
    return str_format(fmt, ...)
  end,
  lower = function(s)
    if type(s) == "string" and #s > SHORT then charge(#s >> SCAN) end
    return str_lower(s)
  end,
  upper = function(s)
    if type(s) == "string" and #s > SHORT then charge(#s >> SCAN) end
    return str_upper(s)
  end,
  reverse = function(s) charge(slen(s) >> SCAN) return str_reverse(s) end,
  sub = function(s, i, j)
    if type(s) == "string" and #s > SHORT then charge(span(#s, i or 1, j or -1) >> COPY) end
    return str_sub(s, i, j)
  end,
  rep = function(s, n, sep)
    -- rep("", n) copies nothing n times in a C loop, which no hook can stop
    if str_len(s) == 0 and (sep == nil or str_len(sep) == 0) then return "" end
    local count = tointeger(n)
    if count and count > 0 then
      charge(count + ((count * (slen(s) + slen(sep))) >> COPY))
    end
    return str_rep(s, n, sep)
  end,
  find = function(s, needle, init)
    check_search("string.find", s, needle)
    return str_find(s, needle, init, true)
  end,
  starts_with = function(s, prefix)
    if type(prefix) == "string" and #prefix > SHORT then charge(#prefix >> COPY) end
    return str_sub(s, 1, #prefix) == prefix
  end,
  ends_with = function(s, suffix)
    if type(suffix) == "string" and #suffix > SHORT then charge(#suffix >> COPY) end
    return suffix == "" or str_sub(s, -#suffix) == suffix
  end,
  trim = function(s)
    charge(slen(s) >> COPY)
    local first, last = 1, #s
    while first <= last and str_find(" \t\r\n", str_sub(s, first, first), 1, true) do first = first + 1 end
    while last >= first and str_find(" \t\r\n", str_sub(s, last, last), 1, true) do last = last - 1 end
    return str_sub(s, first, last)
  end,
  split = function(s, sep)
    local parts, start = {}, 1
    if sep == "" then error("split separator must not be empty", 2) end
    check_search("string.split", s, sep)
    while true do
      local i, j = str_find(s, sep, start, true)
      if not i then parts[#parts + 1] = str_sub(s, start); return parts end
      parts[#parts + 1] = str_sub(s, start, i - 1)
      start = j + 1
    end
  end,
  replace = function(s, old, new)
    if old == "" then error("replace: the text to replace must not be empty", 2) end
    check_search("string.replace", s, old)
    local out, start, count = {}, 1, 0
    while true do
      local i, j = str_find(s, old, start, true)
      if not i then
        out[#out + 1] = str_sub(s, start)
        charge((#s + count * slen(new)) >> COPY)
        return concat(out)
      end
      count = count + 1
      out[#out + 1] = str_sub(s, start, i - 1)
      out[#out + 1] = new
      start = j + 1
    end
  end,
}
local string_proxy = readonly("string", safe_string)
local string_mt = getmetatable("")
string_mt.__index = string_proxy
string_mt.__metatable = false

local tbl_insert, tbl_remove, tbl_sort = table.insert, table.remove, table.sort
local utf8_char, utf8_codepoint, utf8_offset = utf8.char, utf8.codepoint, utf8.offset

local function charged_unpack(t, i, j)
  local first = int(i, 1)
  local last = int(j, type(t) == "table" and #t or 0)
  if first and last and last >= first then spread(last - first + 1, "unpack") end
  return unpack(t, i, j)
end

local function charged_concat(t, sep, i, j)
  if type(t) == "table" then
    local first, last = int(i, 1), int(j, #t)
    if first and last and last >= first then
      charge((last - first + 1) * VALUE)  -- before the scan: a huge range fails at once
      local bytes = slen(sep) * (last - first)
      for k = first, last do
        local v = t[k]
        if type(v) == "string" then bytes = bytes + #v end
      end
      charge(bytes >> COPY)
    end
  end
  return concat(t, sep, i, j)
end

local function charged_sort(t, comp)
  if type(t) == "table" then
    local n = #t
    if n > 1 then
      local log = 1
      local m = n
      while m > 1 do m = m >> 1; log = log + 1 end
      local compares = n * log
      charge(compares * COMPARE)
      if comp == nil then
        -- the default order compares strings byte by byte
        local longest = 0
        for k = 1, n do
          local v = rawget(t, k)
          if type(v) == "string" and #v > longest then longest = #v end
        end
        charge(compares * (longest >> SCAN))
      end
    end
  end
  return tbl_sort(t, comp)
end

local BASE = {
  assert = assert, ipairs = ipairs, next = next, pairs = pairs, tostring = tostring,
  type = type, rawlen = rawlen, rawget = rawget, pcall = safe_pcall, xpcall = safe_xpcall,
  unpack = charged_unpack,
  -- Lua does not tail-call a C function: this wrapper keeps its frame, so a level
  -- counted from the template's function is one more from here (0 adds no position).
  error = function(message, level)
    if type(message) == "string" and #message > SHORT then charge(#message >> COPY) end
    level = level or 1
    if type(level) == "number" and level > 0 then level = level + 1 end
    error(message, level)
  end,
  select = function(n, ...)
    local count = select("#", ...)
    if count > 16 then charge(count * VALUE) end
    return select(n, ...)
  end,
  tonumber = function(v, base)
    if type(v) == "string" and #v > SHORT then charge(#v >> SCAN) end
    return tonumber(v, base)
  end,
  rawequal = function(a, b)
    if type(a) == "string" and type(b) == "string" and #a == #b then charge(#a >> COPY) end
    return rawequal(a, b)
  end,
  string = string_proxy,
  table = readonly("table", {
    concat = charged_concat,
    insert = function(t, ...)
      if select("#", ...) == 2 and type(t) == "table" then
        local pos = int((...))
        if pos then charge((#t + 1 - pos) * MOVE) end
      end
      return tbl_insert(t, ...)
    end,
    remove = function(t, pos)
      if pos ~= nil and type(t) == "table" then
        local at = int(pos)
        if at then charge((#t - at) * MOVE) end
      end
      return tbl_remove(t, pos)
    end,
    sort = charged_sort,
    unpack = charged_unpack,
    pack = function(...)
      charge(select("#", ...) * VALUE)
      return pack(...)
    end,
  }),
  math = readonly("math", {
    abs = math.abs, ceil = math.ceil, floor = math.floor, fmod = math.fmod, huge = math.huge,
    max = math.max, min = math.min, modf = math.modf, pi = math.pi, sqrt = math.sqrt,
    tointeger = math.tointeger, type = math.type, maxinteger = math.maxinteger,
    mininteger = math.mininteger,
  }),
  utf8 = readonly("utf8", {
    charpattern = utf8.charpattern,
    char = function(...)
      charge(select("#", ...) * UTF8_CHAR)
      return utf8_char(...)
    end,
    codepoint = function(s, i, j)
      i = i or 1
      spread(span(slen(s), i, j or i), "utf8.codepoint")
      return utf8_codepoint(s, i, j)
    end,
    len = function(s, i, j, lax)
      charge(span(slen(s), i or 1, j or -1))  -- ~1 ns a byte of multi-byte text
      return utf8_len(s, i, j, lax)
    end,
    offset = function(s, n, i)
      charge(slen(s) >> SCAN)
      return utf8_offset(s, n, i)
    end,
  }),
}
local BASE_MT = { __index = BASE, __metatable = false }

-- A Python call that reports failure as (nil, kind, message) instead of raising, so no
-- Python exception object ever becomes a Lua error value. The pcall guards what lupa does
-- around the call (converting arguments and results): its exceptions are Python objects.
-- Errors point two levels up, at the template's line, so callers must not tail-call it.
-- The memory limit is lifted around the call: a Lua memory error while lupa converts its
-- arguments or results would deadlock the worker (see TemplateRuntime._host_memory).
local function call_host(fn, bytes, ...)
  charge(HOST_CALL + bytes)
  py_host_memory(true)
  local ok, value, kind, message = pcall(fn, ...)
  -- 1: over the memory limit; 2: past the deadline. Host work runs no VM instruction, so
  -- the hook would see its time only 1000 instructions later: a loop of json.decode calls
  -- could overrun the deadline 20 times.
  local over = py_host_memory(false)
  if over == 1 then stop("limit", MEMORY_MESSAGE) end
  if over == 2 then stop("deadline", DEADLINE_MESSAGE) end
  if not ok then
    if value == "not enough memory" then error(value, 0) end
    error("host API could not convert a value", 3)
  end
  if kind == "runtime" then error(message, 3) end
  if kind then stop(kind, message) end
  if type(value) == "userdata" then stop("runtime", "host API returned a foreign object") end
  return value
end

local function check_string(value, what, max)
  if type(value) ~= "string" then error(what .. " must be a string", 3) end
  if #value > max then stop("limit", what .. " longer than " .. max .. " bytes") end
  charged = charged + #value  -- utf8.len
  if charged + counted > budget_total then over() end
  -- lupa decodes strings for Python as UTF-8 and raises on anything else
  if not utf8_len(value) then error(what .. " must be UTF-8 text", 3) end
end

local function split_key(key)
  local parts, start = {}, 1
  while true do
    local dot = str_find(key, ".", start, true)
    parts[#parts + 1] = str_sub(key, start, (dot or 0) - 1)
    if not dot then return parts end
    start = dot + 1
  end
end


-- JSON encoding of plain Lua data, used for json.encode and to hand a run's output to the
-- host in one string. Tables with keys 1..n are arrays, tables with string keys objects,
-- an empty table is an object (`{}`) except where the host knows it is a list.
-- JSON is the fastest way across: lupa converts a table to Python an item at a time in
-- Python code, 3-10 times slower than this encoder plus one orjson.loads (bench/lua.py).
local huge = math.huge
-- Bytes the output encoder has produced, and how many it may produce (max_output_bytes);
-- json.encode inside a template is bounded by the budget and the memory limit instead.
local out_bytes, out_max = 0, huge
local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape_char(c) return ESCAPES[c] or str_format("\\u%04x", str_byte(c)) end
-- What JSON must escape, and DEL: byte ranges, not %c, which the C locale could change.
local NEEDS_ESCAPE = '[\0-\31"\\\127]'
-- Strings already found to be UTF-8 with nothing to escape, mapped to their JSON form:
-- keys and constant values recur on every run. Only short strings are remembered, and at
-- most KNOWN_MAX of them (the cache starts over when full). It saves work, never charges:
-- a string costs the same whether it was known or not. Only the output encoder, which
-- runs without the hook, uses it: under the hook (json.encode) a known string would run
-- fewer instructions, and the cost would depend on what ran before. `strings` is the
-- table the encoder looks in: the cache, or one that stays empty.
local KNOWN_BYTES, KNOWN_MAX = 128, 2048
local known, known_count = {}, 0
local NO_STRINGS = {}
local strings, remember = known, true
-- The buffer being filled and its length (a counter is faster than #buf + 1). It is kept
-- from one encoding to the next, as growing a new one cost more than the rest of a small
-- encoding; entries past nb are stale. One that holds much is dropped (release_buffer).
local buf, nb = {}, 0
local BUF_KEEP_ENTRIES, BUF_KEEP_BYTES = 4096, 65536
local function release_buffer()
  if nb > BUF_KEEP_ENTRIES or out_bytes > BUF_KEEP_BYTES then buf = {} end
  nb = 0
end

local function put_string(s)
  local n = #s
  -- utf8.len, then a scan for bytes to escape; each copy of a shared string is paid again
  charged = charged + 4 + n * (1 + PATTERN)
  if charged + counted > budget_total then over() end
  local q = strings[s]
  if not q then
    if not utf8_len(s) then error("strings must be UTF-8 text", 0) end
    -- %q quotes in one C pass and escapes exactly ", \, newline and control bytes: when
    -- it added nothing, its result is the JSON string
    q = str_format("%q", s)
    if #q == n + 2 then
      if remember and n <= KNOWN_BYTES then
        if known_count >= KNOWN_MAX then known, known_count = {}, 0 end
        known[s] = q
        known_count = known_count + 1
        strings = known
      end
    elseif str_find(s, NEEDS_ESCAPE) then
      -- the scan again, and a Lua call per escaped byte (json.encode is also counted by
      -- the hook; the output encoder runs without it)
      charged = charged + n * (PATTERN + 16)
      if charged + counted > budget_total then over() end
      q = '"' .. str_gsub(s, NEEDS_ESCAPE, escape_char) .. '"'
    else
      q = '"' .. s .. '"'  -- %q escaped a byte the C locale counts as a control character
    end
  end
  out_bytes = out_bytes + #q
  if out_bytes > out_max then stop("limit", "output: more than " .. out_max .. " bytes in all") end
  nb = nb + 1
  buf[nb] = q
end

-- Why a table that is neither a list nor an object cannot be encoded; every key is
-- looked at, so the message does not depend on the order next() visits them in.
local function key_problem(t)
  for k in next, t do
    if math_type(k) ~= "integer" and type(k) ~= "string" then
      return "table keys must be strings (objects) or 1..n (lists)"
    end
  end
  return "a table mixes list and object keys"
end

local put_value
local function put_table(t, depth)
  if depth > 32 then error("tables nested deeper than 32 levels (or a cycle)", 0) end
  depth = depth + 1
  if t[1] ~= nil then
    -- a list when 1..n are its only keys (no template can give a table a metatable)
    local n, count = #t, 0
    for _ in next, t do count = count + 1 end
    -- the loops here, per entry (a table referenced twice is paid for twice)
    charged = charged + 4 + count * 16
    if charged + counted > budget_total then over() end
    if count ~= n then error(key_problem(t), 0) end
    nb = nb + 1
    buf[nb] = "["
    for i = 1, n do
      if i > 1 then nb = nb + 1; buf[nb] = "," end
      local v = t[i]
      if v == nil then error(key_problem(t), 0) end  -- a hole, so some other key
      put_value(v, depth)
    end
    nb = nb + 1
    buf[nb] = "]"
    return
  end
  charged = charged + 4
  if charged + counted > budget_total then over() end
  local open = nb + 1
  local strs = strings
  for k, v in next, t do
    -- a known key with a known value, the usual entry, when it stays within the budget
    -- and the output limit: its charges at once. Otherwise the steps below make them one
    -- by one, so a run that stops costs the same whichever way the entry went.
    local qk, qv = strs[k], strs[v]
    local fast = false
    if qk and qv then
      local kn, vn = #k, #v
      local add = 24 + (kn + vn) * (1 + PATTERN)  -- 16 for the entry, two strings
      local bytes = out_bytes + kn + vn + 4
      if charged + add + counted <= budget_total and bytes <= out_max then
        charged, out_bytes = charged + add, bytes
        local i = nb
        buf[i + 1] = i + 1 == open and "{" or ","
        buf[i + 2] = qk
        buf[i + 3] = ":"
        buf[i + 4] = qv
        nb = i + 4
        fast = true
      end
    end
    if not fast then
      if type(k) ~= "string" then error(key_problem(t), 0) end
      charged = charged + 16
      if charged + counted > budget_total then over() end
      nb = nb + 1
      buf[nb] = nb == open and "{" or ","
      put_string(k)
      nb = nb + 1
      buf[nb] = ":"
      put_value(v, depth)
    end
  end
  nb = nb + 1
  buf[nb] = nb == open and "{}" or "}"
end

put_value = function(v, depth)
  local q = strings[v]  -- most strings
  if q then
    local n = #v
    charged = charged + 4 + n * (1 + PATTERN)
    if charged + counted > budget_total then over() end
    out_bytes = out_bytes + n + 2
    if out_bytes > out_max then stop("limit", "output: more than " .. out_max .. " bytes in all") end
    nb = nb + 1
    buf[nb] = q
    return
  end
  local t = type(v)
  if t == "string" then
    put_string(v)
  elseif t == "number" then
    nb = nb + 1
    if math_type(v) == "integer" then buf[nb] = v  -- concat writes it as %d
    elseif v ~= v or v == huge or v == -huge then error("numbers must be finite (no NaN or infinity)", 0)
    else
      -- the shortest of the usual precisions that reads back as the same number: 9.99, not
      -- 9.9900000000000002
      local text = str_format("%.14g", v)
      buf[nb] = tonumber(text) == v and text or str_format("%.17g", v)
    end
  elseif t == "boolean" then
    nb = nb + 1
    buf[nb] = v and "true" or "false"
  elseif t == "table" then
    put_table(v, depth)
  elseif v == nil then
    nb = nb + 1
    buf[nb] = "null"
  else
    error("a " .. t .. " cannot be encoded; use plain data", 0)
  end
end

local function json_encode(v)
  out_bytes, out_max, nb = 0, huge, 0
  strings, remember = NO_STRINGS, false
  put_value(v, 0)
  charge(nb + (out_bytes >> COPY))
  local text = concat(buf, "", 1, nb)
  release_buffer()
  return text
end

local function put_list(list)
  if list[1] == nil then nb = nb + 1; buf[nb] = "[]" else put_table(list, 0) end
end

local function encode_output(out, max_bytes)
  out_bytes, out_max, nb = 0, max_bytes, 1
  strings, remember = known, true
  buf[1] = '{"requests":'
  put_list(out.requests)
  nb = nb + 1; buf[nb] = ',"pixels":'
  put_list(out.pixels)
  nb = nb + 1; buf[nb] = ',"logs":'
  put_list(out.logs)
  nb = nb + 1; buf[nb] = ',"cookies":'
  put_list(out.cookies)
  nb = nb + 1; buf[nb] = "}"
  -- the concat, and the host's decoding of the result
  charge(nb + (out_bytes >> COPY))
  local text = concat(buf, "", 1, nb)
  release_buffer()
  if #text > max_bytes then stop("limit", "output: more than " .. max_bytes .. " bytes in all") end
  return text
end

-- The API a tag's template sees is built once per bound tag (closures over its grants);
-- the hit being processed and the output being collected are swapped in per execution.
local cur_hit, cur_out
local cur_paths  -- event keys resolved in this execution (see bind_api)

local function bind_api(grants, limits)
  local api = setmetatable({}, BASE_MT)

  -- Keys this tag may read, split into path parts. The manifest's exact keys are split
  -- once, here; other keys (granted by a prefix) once per execution and key. No cache
  -- may outlive an execution: a first run that costs more than the next would make the
  -- cost depend on what ran before.
  local static_paths = {}
  for key in next, grants.read_keys do static_paths[key] = split_key(key) end
  for _, prefix in ipairs(grants.read_prefixes) do  -- "data.*" grants "data" itself
    local root = str_sub(prefix, 1, -2)
    static_paths[root] = split_key(root)
  end
  local function allow(key)
    if not grants.read_any then
      local allowed = false
      for _, prefix in ipairs(grants.read_prefixes) do
        -- "data.*" grants "data" itself and everything below it
        if str_sub(key, 1, #prefix) == prefix or key == str_sub(prefix, 1, -2) then
          allowed = true; break
        end
      end
      if not allowed then stop("permission", "read_event_data does not allow '" .. key .. "'") end
    end
    local parts = split_key(key)
    local paths = cur_paths
    if not paths then paths = {}; cur_paths = paths end
    paths[key] = parts
    return parts
  end

  api.event = readonly("event", {
    get = function(key)
      local parts = static_paths[key] or cur_paths and cur_paths[key]
      if not parts then
        check_string(key, "event key", 256)
        parts = allow(key)
      end
      -- the path's value: the hit's tables have no metatable, so plain indexing is raw;
      -- a part that is not a table ends the path
      local v = cur_hit.event[parts[1]]
      for i = 2, #parts do
        if type(v) ~= "table" then return nil end
        v = v[parts[i]]
      end
      if type(v) == "table" then return copy(v, 0) end
      return v
    end,
  })

  api.cookies = readonly("cookies", {
    get = function(name)
      check_string(name, "cookie name", 64)
      if not grants.get_cookies[name] then
        -- a grant ending in "*" allows the names that start with the rest ("_ga_*")
        local allowed = false
        for _, prefix in ipairs(grants.get_cookie_prefixes) do
          if #name > #prefix and str_sub(name, 1, #prefix) == prefix then allowed = true break end
        end
        if not allowed then stop("permission", "get_cookies does not allow '" .. name .. "'") end
      end
      return rawget(cur_hit.cookies, name)
    end,
    set = function(name, value, options)
      check_string(name, "cookie name", 64)
      if not grants.set_cookies[name] then stop("permission", "set_cookies does not allow '" .. name .. "'") end
      check_string(value, "cookie value", 4096)
      local max_age = type(options) == "table" and options.max_age or 34560000
      if math.type(max_age) ~= "integer" or max_age < 0 then error("max_age must be whole seconds", 2) end
      local cookies = cur_out.cookies
      cookies[#cookies + 1] = { name = name, value = value, max_age = max_age }
    end,
  })

  api.send_http = function(spec)
    if type(spec) ~= "table" then error("send_http takes a table {url=, method=, headers=, body=}", 2) end
    local requests = cur_out.requests
    if #requests >= limits.max_requests then
      stop("limit", "requests: more than " .. limits.max_requests .. " send_http calls")
    end
    local method = spec.method or "POST"
    check_string(spec.url, "send_http url", 4096)
    check_string(method, "send_http method", 10)
    -- a URL checked when the tag was bound (its URL parameters, exact grants) is charged
    -- what the host call costs, without the call
    local checked = grants.checked_urls[method]
    local url = checked and checked[spec.url]
    if url then
      charge(HOST_CALL + (#spec.url >> SCAN))
    else
      url = call_host(grants.check_url, #spec.url >> SCAN, spec.url, method)
    end
    local headers = {}
    if spec.headers ~= nil then
      if type(spec.headers) ~= "table" then error("send_http headers must be a table", 2) end
      for k, v in next, spec.headers do
        check_string(k, "header name", 128)
        check_string(v, "header value", 8192)
        headers[k] = v
      end
    end
    local body = spec.body
    if body ~= nil and type(body) ~= "string" and type(body) ~= "table" then
      error("send_http body must be a string or a table (sent as JSON)", 2)
    end
    if type(body) == "table" then body = copy(body, 0) end
    requests[#requests + 1] = { method = method, url = url, headers = headers, body = body }
  end

  api.pixel = function(spec)
    if type(spec) ~= "table" then error("pixel takes a table {vendor=, command=, args=}", 2) end
    check_string(spec.vendor, "pixel vendor", 32)
    check_string(spec.command, "pixel command", 64)
    if not grants.vendors[spec.vendor] then stop("permission", "pixel does not allow vendor '" .. spec.vendor .. "'") end
    local pixels = cur_out.pixels
    if #pixels >= limits.max_pixels then stop("limit", "pixels: more than " .. limits.max_pixels .. " pixel calls") end
    if spec.args ~= nil and type(spec.args) ~= "table" then error("pixel args must be a table", 2) end
    pixels[#pixels + 1] = { vendor = spec.vendor, command = spec.command, args = copy(spec.args or {}, 0) }
  end

  api.hash = readonly("hash", {
    sha256 = function(s)
      check_string(s, "hash.sha256 input", 65536)
      local digest = call_host(py_sha256, #s >> SCAN, s)
      return digest
    end,
  })
  api.json = readonly("json", {
    encode = function(value)
      local ok, text = pcall(json_encode, value)
      if not ok then error("json.encode: " .. text, 2) end
      return text
    end,
    decode = function(text)
      check_string(text, "json.decode input", 262144)
      -- parsing, then building a Lua table per object or array
      local value = call_host(py_json_decode, #text * JSON_BYTE, text)
      return value
    end,
  })
  api.time = readonly("time", {
    now_ms = function() return cur_hit.now_ms end,
    -- Calendar fields (UTC) of a time in ms since the epoch; platforms that want a date
    -- string (Google Ads) build it from these, since os.date is not available.
    utc = function(ms)
      if math.type(ms) ~= "integer" or ms < 0 or ms > 253402300799999 then
        error("time.utc takes whole milliseconds since the epoch (year 1970 to 9999)", 2)
      end
      local secs = ms // 1000
      local days, rem = secs // 86400, secs % 86400
      -- civil_from_days (Howard Hinnant), valid for every day in the accepted range
      local z = days + 719468
      local era = z // 146097
      local doe = z - era * 146097
      local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
      local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
      local mp = (5 * doy + 2) // 153
      local day = doy - (153 * mp + 2) // 5 + 1
      local month = mp < 10 and mp + 3 or mp - 9
      local year = yoe + era * 400 + (month <= 2 and 1 or 0)
      return { year = year, month = month, day = day, hour = rem // 3600,
               min = rem % 3600 // 60, sec = rem % 60, ms = ms % 1000 }
    end,
  })

  api.secret = function(name)
    check_string(name, "secret name", 64)
    local ref = grants.secrets[name]
    if not ref then stop("permission", "secrets does not allow '" .. name .. "'") end
    local value = call_host(py_secret, 0, ref)
    return value
  end

  api.log = function(...)
    if not grants.logging then stop("permission", "logging is not granted to this template") end
    local logs = cur_out.logs
    if #logs >= limits.max_logs then stop("limit", "logs: more than " .. limits.max_logs .. " log lines") end
    local args = pack(...)
    charge(args.n * VALUE + (string_bytes(args.n, ...) >> COPY))
    local parts = {}
    for i = 1, args.n do
      local v = args[i]
      local t = type(v)
      parts[i] = (t == "string" or t == "number" or t == "boolean" or t == "nil") and tostring(v) or t
    end
    logs[#logs + 1] = truncate(concat(parts, " "), limits.max_log_bytes)
  end

  api.fail = function(reason)
    stop("runtime", "template failed: " .. (type(reason) == "string" and reason or type(reason)))
  end

  return { api = api, env_mt = { __index = api, __metatable = false }, params = grants.params }
end

-- Always two results (function or false, message) so the host can unpack them.
local function compile(source, name)
  if type(source) ~= "string" or str_sub(source, 1, 1) == "\27" then
    return false, "precompiled bytecode is not accepted"
  end
  local fn, err = load(source, "=" .. name, "t", {})
  return fn or false, err or ""
end

local MAX_MESSAGE_BYTES = 2048

-- Error messages end up in the operator's logs as Python text: bounded, valid UTF-8.
local function message_text(s)
  s = truncate(s, MAX_MESSAGE_BYTES)
  if not utf8_len(s) then s = str_gsub(s, "[\128-\255]", "?") end
  return s
end

-- units 0 runs without the budget/deadline/depth hook: only bench/ does that, to price
-- the limits; execute() always passes a budget.
run = function(fn, bound, hit, units, deadline_at, depth, max_output)
  killed, kill_message, cur_paths = nil, nil, nil
  counted, charged, budget_total = 0, 0, units > 0 and units or huge
  deadline, max_depth = deadline_at, depth
  cur_hit = hit
  local out = { requests = {}, pixels = {}, logs = {}, cookies = {} }
  cur_out = out
  -- A fresh environment per execution: globals a template sets die with the execution.
  local env = setmetatable({ params = copy(bound.params, 0) }, bound.env_mt)
  setupvalue(fn, 1, env)
  if units > 0 then sethook(hook, "", HOOK_EVERY) end
  local done, err = pcall(fn)
  sethook()
  -- The output is encoded under the same budget, which it charges as it goes (per table
  -- entry and string byte): it is work the template asked for. Without the hook: its
  -- charges cover its instructions.
  local encoded, output = false, nil
  if done and not killed then encoded, output = pcall(encode_output, out, max_output) end
  setupvalue(fn, 1, nil)
  cur_hit, cur_out = nil, nil
  release_buffer()  -- after a json.encode the run did not finish
  local cost = units > 0 and counted + charged or 0
  -- Always five results: ok, kind, message, output, cost.
  if killed then return false, killed, message_text(kill_message), false, cost end
  if not done then
    if err == "not enough memory" then return false, "limit", MEMORY_MESSAGE, false, cost end
    if type(err) ~= "string" then err = "error object of type " .. type(err) end
    -- Lua's own stack limit is a resource limit, not a bug in the hit: quarantine counts it
    if str_find(err, "stack overflow", 1, true) then
      return false, "limit", "stack: " .. message_text(err), false, cost
    end
    return false, "runtime", message_text(err), false, cost
  end
  if not encoded then
    if output == "not enough memory" then return false, "limit", MEMORY_MESSAGE, false, cost end
    return false, "runtime", "output: " .. tostring(output), false, cost
  end
  return true, false, false, output, cost
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- reset is the C sethook itself: the host calls it after an unexpected LuaError, and a C
-- function runs no VM instruction on which a still-armed hook could fire again.
return { compile = compile, run = run, reset = sethook, set_of = set_of, bind_api = bind_api }
