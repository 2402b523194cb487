-- GA4: Measurement Protocol (server) and gtag event (browser). GA4 does not deduplicate
-- the two copies, so a tag should normally send one of them (send_browser is off by
-- default); both carry the hit's event_id as an event parameter for joining them later.
local NAMES = {
  page_view = "page_view",
  view_content = "view_item",
  lead = "generate_lead",
  qualified_lead = "qualify_lead",
  purchase = "purchase",
  complete_registration = "sign_up",
  add_to_cart = "add_to_cart",
  add_to_wishlist = "add_to_wishlist",
  initiate_checkout = "begin_checkout",
  add_payment_info = "add_payment_info",
  search = "search",
  contact = "contact",
  subscribe = "subscribe",
  schedule = "schedule",
  start_trial = "start_trial",
  submit_application = "submit_application",
  download = "file_download",
}

-- Event names the Measurement Protocol refuses (its reserved list, plus events that are
-- allowed only for app streams), and reserved prefixes.
local RESERVED = {}
for _, n in ipairs({
  "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
  "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_install",
  "app_remove", "app_store_refund", "app_store_subscription_cancel",
  "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
  "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
  "dynamic_link_first_open", "error", "firebase_campaign", "firebase_in_app_message_action",
  "firebase_in_app_message_dismiss", "firebase_in_app_message_impression", "first_open",
  "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground",
  "notification_open", "notification_receive", "notification_send", "os_update",
  "screen_view", "session_start", "session_start_with_rollout", "user_engagement",
}) do
  RESERVED[n] = true
end
local RESERVED_PREFIXES = { "firebase_", "ga_", "google_" }

local HOSTS = { global = "www.google-analytics.com", eu = "region1.google-analytics.com" }

local GA_COOKIE_AGE = 63072000 -- two years, the lifetime gtag.js gives _ga
-- the random part of a new client id: 100000000..2147483647, 9 or 10 digits like gtag.js's
local GA_RANDOM_BASE = 100000000
local GA_RANDOM_RANGE = 2147483648 - GA_RANDOM_BASE

local function is_letter(b) return (b >= 65 and b <= 90) or (b >= 97 and b <= 122) end
local function is_digit(b) return b >= 48 and b <= 57 end

local function name_problem(n)
  if #n == 0 or #n > 40 then return "it must be 1 to 40 characters" end
  if not is_letter(n:byte(1)) then return "it must start with a letter" end
  for i = 2, #n do
    local b = n:byte(i)
    if not (is_letter(b) or is_digit(b) or b == 95) then
      return "it may only contain letters, digits and '_'"
    end
  end
  if RESERVED[n] then return "it is a reserved event name" end
  for _, prefix in ipairs(RESERVED_PREFIXES) do
    if n:starts_with(prefix) then return "the prefix '" .. prefix .. "' is reserved" end
  end
  return nil
end

local function digits(s)
  if #s == 0 or #s > 20 then return false end
  for i = 1, #s do
    if not is_digit(s:byte(i)) then return false end
  end
  return true
end

-- "GA1.1.<random>.<first visit seconds>": the client id is the last two parts
local function client_id_from_ga(value)
  if type(value) ~= "string" then return nil end
  local parts = value:split(".")
  if #parts ~= 4 or not parts[1]:starts_with("GA") then return nil end
  if not (digits(parts[3]) and digits(parts[4])) then return nil end
  return parts[3] .. "." .. parts[4]
end

-- The stream's session cookie _ga_<id>: "GS1.1.<session id>.<…>" (older gtag) or
-- "GS2.1.s<session id>$o<count>$…" (newer); the session id joins the event to the session.
local function session_id_from(value)
  if type(value) ~= "string" then return nil end
  local parts = value:split(".")
  if #parts < 3 then return nil end
  local sid
  if parts[1] == "GS1" then
    sid = parts[3]
  elseif parts[1] == "GS2" and parts[3]:starts_with("s") then
    sid = parts[3]:sub(2):split("$")[1]
  end
  if sid and digits(sid) then return sid end
  return nil
end

local function query_escape(s)
  local out = {}
  for i = 1, #s do
    local b = s:byte(i)
    if is_letter(b) or is_digit(b) or b == 45 or b == 46 or b == 95 or b == 126 then
      out[#out + 1] = string.char(b)
    else
      out[#out + 1] = string.format("%%%02X", b)
    end
  end
  return table.concat(out)
end

-- A new _ga in Google's format, "GA1.1.<random>.<seconds now>". Templates have no random
-- source: the number comes from the visitor id (tw_id), so every hit of a request and a
-- retried request make the same one, or from the event id when there is no visitor id.
local function new_ga()
  local seed = event.get("server.client_id") or event.get("event_id")
  local number = GA_RANDOM_BASE + tonumber(hash.sha256(seed):sub(1, 8), 16) % GA_RANDOM_RANGE
  return "GA1.1." .. number .. "." .. math.floor(event.get("server.received_ms") / 1000)
end

-- Website hits: the browser's _ga keeps its client id and gets two more years; without a
-- well-formed one the tag makes one. The answer sets it only with analytics_storage
-- granted. Offline hits set no cookie: their client id is the Fire API's.
local client_id
if event.get("server.action_source") == "website" then
  local ga = cookies.get("_ga")
  client_id = client_id_from_ga(ga)
  if client_id == nil then
    ga = new_ga()
    client_id = client_id_from_ga(ga)
  end
  cookies.set("_ga", ga, { max_age = GA_COOKIE_AGE })
else
  client_id = client_id_from_ga(cookies.get("_ga")) or event.get("server.client_id")
end

local hit_name = event.get("event")
-- A Fire API test request goes to the validation endpoint, like the tag's debug mode.
local test_code = event.get("server.test_event_code")
local debug = params.debug or (test_code ~= nil and test_code ~= "")
local event_id = event.get("event_id")
local ga_name = params.event_names[hit_name] or NAMES[hit_name] or hit_name
local problem = name_problem(ga_name)
if problem then
  fail("GA4 event name '" .. ga_name .. "' is not allowed: " .. problem
    .. " (map '" .. hit_name .. "' to another name in event_names)")
end

local value = event.get("data.value")
local currency = event.get("data.currency") or params.default_currency
if value ~= nil and currency == nil then
  fail("value without a currency: send data.currency or set default_currency")
end
if hit_name == "purchase" and value == nil then
  fail("purchase without a value: send data.value")
end

-- Parameters both copies share
local shared = { event_id = event_id }
if value ~= nil then
  shared.value = value
  shared.currency = currency
end
shared.transaction_id = event.get("data.transaction_id")
shared.search_term = event.get("data.search_string")
local contents = event.get("data.contents")
local content_ids = event.get("data.content_ids")
local items = {}
if contents then
  for _, c in ipairs(contents) do
    items[#items + 1] = { item_id = c.id, quantity = c.quantity, price = c.item_price }
  end
elseif content_ids then
  for _, id in ipairs(content_ids) do
    items[#items + 1] = { item_id = id }
  end
end
if #items > 0 then shared.items = items end

local function with_shared(t)
  for k, v in pairs(shared) do t[k] = v end
  return t
end

-- GA4 keeps a page_location of up to 1000 characters and a page_referrer of up to 420,
-- and drops a longer one; a landing URL with click ids and UTM tags can be longer, so it
-- is cut to the limit (in bytes, never inside a UTF-8 sequence).
local MAX_PAGE_LOCATION, MAX_PAGE_REFERRER = 1000, 420
local function clip(text, max)
  if text == nil or #text <= max then return text end
  local cut = max
  while cut > 0 and (text:byte(cut + 1) & 0xC0) == 0x80 do cut = cut - 1 end
  return text:sub(1, cut)
end

if params.send_server then
  if params.api_secret == nil then
    fail("api_secret is required to send Measurement Protocol events")
  end
  if client_id == nil then
    log("ga4: no client id (an offline event without _ga or client_id) for '" .. hit_name
      .. "'; Measurement Protocol call skipped")
  else
    local gpc = event.get("consent.gpc") == true or event.get("server.sec_gpc") == true
    local function consent(signal)
      if not gpc and event.get("consent." .. signal) == "granted" then return "GRANTED" end
      return "DENIED"
    end
    local ad_user_data = consent("ad_user_data")

    local ev = with_shared({ engagement_time_msec = params.engagement_time_msec })
    ev.session_id = session_id_from(cookies.get("_ga_" .. params.measurement_id:sub(3)))
    ev.page_location = clip(event.get("page.url"), MAX_PAGE_LOCATION)
    local referrer = event.get("page.referrer")
    if referrer ~= nil and referrer ~= "" then ev.page_referrer = clip(referrer, MAX_PAGE_REFERRER) end
    if debug then ev.debug_mode = 1 end

    local body = {
      client_id = client_id,
      timestamp_micros = event.get("server.event_time_ms") * 1000,
      consent = { ad_user_data = ad_user_data, ad_personalization = consent("ad_personalization") },
      events = { { name = ga_name, params = ev } },
    }
    if ad_user_data == "GRANTED" then
      local user_data = {}
      local email = event.get("user.em_g") or event.get("user.em")
      if email then user_data.sha256_email_address = { email } end
      local phone = event.get("user.ph")
      if phone then user_data.sha256_phone_number = { phone } end
      local fn, ln = event.get("user.fn"), event.get("user.ln")
      if fn or ln then
        user_data.address = { { sha256_first_name = fn, sha256_last_name = ln } }
      end
      if next(user_data) then body.user_data = user_data end
    end
    if debug then body.validation_behavior = "ENFORCE_RECOMMENDATIONS" end

    send_http({
      url = "https://" .. HOSTS[params.region] .. (debug and "/debug" or "")
        .. "/mp/collect?measurement_id=" .. query_escape(params.measurement_id)
        .. "&api_secret=" .. query_escape(secret("api_secret")),
      method = "POST",
      headers = { ["content-type"] = "application/json" },
      body = body,
    })
  end
end

if params.send_browser and event.get("server.action_source") == "website" then
  local gtag_params = with_shared({ send_to = params.measurement_id })
  if debug then gtag_params.debug_mode = true end
  pixel({ vendor = "gtag", command = "event", args = { ga_name, gtag_params } })
end
