-- Google Ads: click conversion upload through the Google Ads API (server) and the gtag
-- conversion (browser). Both copies carry the same order id (gtag transaction_id).
-- Google Ads has no event name on the wire: a tag maps canonical events to conversion
-- actions. NAMES gives the action category to create for each canonical event (used in
-- the hint logged for an event the tag has no action for).
local NAMES = {
  page_view = "PAGE_VIEW",
  view_content = "PAGE_VIEW",
  lead = "SUBMIT_LEAD_FORM",
  qualified_lead = "QUALIFIED_LEAD",
  purchase = "PURCHASE",
  complete_registration = "SIGNUP",
  add_to_cart = "ADD_TO_CART",
  add_to_wishlist = "DEFAULT",
  initiate_checkout = "BEGIN_CHECKOUT",
  add_payment_info = "DEFAULT",
  search = "DEFAULT",
  contact = "CONTACT",
  subscribe = "SUBSCRIBE_PAID",
  schedule = "BOOK_APPOINTMENT",
  start_trial = "SIGNUP",
  submit_application = "SUBMIT_LEAD_FORM",
  download = "DOWNLOAD",
}

local API_HOST = "https://googleads.googleapis.com/"
local MAX_ORDER_ID = 64
local COOKIE_AGE = 7776000 -- 90 days, the lifetime Google's tag gives _gcl_aw and _gcl_gb
local MAX_CLICK_ID = 512 -- the longest click id a hit can carry

local function is_digit(b) return b >= 48 and b <= 57 end
local function is_label_char(b)
  return is_digit(b) or (b >= 65 and b <= 90) or (b >= 97 and b <= 122) or b == 45 or b == 95
end

-- RFC 6265 cookie-octet: printable ASCII except space, '"', ',', ';' and '\'
local function is_cookie_char(b)
  return b == 33 or (b >= 35 and b <= 43) or (b >= 45 and b <= 58) or (b >= 60 and b <= 91)
    or (b >= 93 and b <= 126)
end

-- s is 1..max bytes, each accepted by ok(byte)
local function made_of(s, ok, max)
  if #s == 0 or #s > max then return false end
  for i = 1, #s do
    if not ok(s:byte(i)) then return false end
  end
  return true
end

-- "GCL.<unix seconds>.<click id>", the form of the cookies Google's tag keeps for the
-- last ad click (_gcl_aw: gclid, _gcl_gb: gbraid)
local function id_from_cookie(value)
  if type(value) ~= "string" then return nil end
  local parts = value:split(".")
  if #parts < 3 or parts[1] ~= "GCL" then return nil end
  local id = table.concat(parts, ".", 3)
  if id == "" then return nil end
  return id
end

-- The hit's click id, also stored in cookie `name` when it is new and cookie-safe (an
-- unsafe one is still used for this hit); without one, the id the cookie holds.
local function click_id(name, from_hit, seconds)
  local stored = id_from_cookie(cookies.get(name))
  if from_hit == nil then return stored end
  if from_hit ~= stored and made_of(from_hit, is_cookie_char, MAX_CLICK_ID) then
    cookies.set(name, "GCL." .. seconds .. "." .. from_hit, { max_age = COOKIE_AGE })
  end
  return from_hit
end

-- ad_user_data as the Google Ads API spells it, nil when the hit does not say (the field
-- is then left out, not sent as UNSPECIFIED); GPC opts out of it. Click uploads cannot
-- carry ad_personalization: Google takes it for user-data uploads only.
local gpc = event.get("consent.gpc") == true or event.get("server.sec_gpc") == true
local function ad_user_data_consent()
  local state = event.get("consent.ad_user_data")
  if gpc or state == "denied" then return "DENIED" end
  if state == "granted" then return "GRANTED" end
  return nil
end

-- Click ids. Cookies belong to the visitor's browser only on website hits; offline hits
-- use only the ids they carry. This runs before the mapping check: the landing hit that
-- brings the click is seldom a conversion itself.
local website = event.get("server.action_source") == "website"
local gclid = event.get("click.gclid")
local gbraid = event.get("click.gbraid")
local wbraid = event.get("click.wbraid")
if website then
  local seconds = math.floor(event.get("server.event_time_ms")) // 1000
  gclid = click_id("_gcl_aw", gclid, seconds)
  gbraid = click_id("_gcl_gb", gbraid, seconds)
end

local name = event.get("event")
local action = params.conversion_actions[name]
local label = params.conversion_labels[name]

if action == nil and label == nil then
  log("google_ads: no conversion action mapped for '" .. name .. "' (category to create: "
    .. (NAMES[name] or "DEFAULT") .. "); nothing sent")
  return
end
if action ~= nil and not made_of(action, is_digit, 18) then
  fail("conversion_actions." .. name .. " must be the digits of a conversion action id")
end
if label ~= nil and not made_of(label, is_label_char, 64) then
  fail("conversion_labels." .. name .. " must be a gtag conversion label (letters, digits, '-', '_')")
end

local value = event.get("data.value")
local currency = event.get("data.currency") or params.default_currency
if value ~= nil and currency == nil then
  fail("value without a currency: send data.currency or set default_currency")
end
if name == "purchase" and value == nil then
  fail("purchase without a value: send data.value")
end

local order_id = event.get("data.transaction_id") or event.get("data.lead_id") or event.get("event_id")
if utf8.len(order_id) > MAX_ORDER_ID then
  fail("order id (data.transaction_id or data.lead_id) longer than " .. MAX_ORDER_ID .. " characters")
end

local ad_user_data = ad_user_data_consent()
local email, phone
if ad_user_data == "GRANTED" then
  email = event.get("user.em_g") or event.get("user.em")
  phone = event.get("user.ph")
end

if params.send_server and action ~= nil then
  if params.customer_id == nil then
    fail("customer_id is required to upload click conversions")
  end
  if params.developer_token == nil or (params.access_token == nil and params.refresh_token == nil) then
    fail("developer_token and refresh_token (or access_token) are required to upload click conversions")
  end
  if params.refresh_token ~= nil and (params.client_id == nil or params.client_secret == nil) then
    fail("refresh_token needs client_id and client_secret")
  end
  local conversion = {
    conversionAction = "customers/" .. params.customer_id .. "/conversionActions/" .. action,
    orderId = order_id,
  }
  if ad_user_data then conversion.consent = { adUserData = ad_user_data } end
  if gclid then
    conversion.gclid = gclid
  elseif gbraid then
    conversion.gbraid = gbraid
  elseif wbraid then
    conversion.wbraid = wbraid
  end
  local identifiers = {}
  if email then identifiers[#identifiers + 1] = { hashedEmail = email } end
  if phone then identifiers[#identifiers + 1] = { hashedPhoneNumber = phone } end
  if #identifiers > 0 then conversion.userIdentifiers = identifiers end

  if not (gclid or gbraid or wbraid) and #identifiers == 0 then
    log("google_ads: no click id (gclid, gbraid, wbraid) and no user identifiers for '" .. name
      .. "'; nothing to attribute, upload skipped")
  else
    local t = time.utc(event.get("server.event_time_ms"))
    conversion.conversionDateTime = string.format("%04d-%02d-%02d %02d:%02d:%02d+00:00",
      t.year, t.month, t.day, t.hour, t.min, t.sec)
    if value ~= nil then
      conversion.conversionValue = value
      conversion.currencyCode = currency
    end
    local body = { conversions = { conversion }, partialFailure = true }
    -- a Fire API test request is only validated, like the tag's validate_only mode
    local test_code = event.get("server.test_event_code")
    if params.validate_only or (test_code ~= nil and test_code ~= "") then
      body.validateOnly = true
    end
    local headers = {
      ["content-type"] = "application/json",
      ["developer-token"] = secret("developer_token"),
    }
    if params.refresh_token ~= nil then
      -- the node swaps this for "Authorization: Bearer <fresh token>" as the request leaves
      headers["x-tagwire-oauth"] = "google " .. secret("refresh_token") .. " "
        .. secret("client_id") .. " " .. secret("client_secret")
    else
      headers["Authorization"] = "Bearer " .. secret("access_token")
    end
    if params.login_customer_id then headers["login-customer-id"] = params.login_customer_id end
    send_http({
      url = API_HOST .. params.api_version .. "/customers/" .. params.customer_id
        .. ":uploadClickConversions",
      method = "POST",
      headers = headers,
      body = body,
    })
  end
end

if params.send_browser and label ~= nil and website then
  if params.conversion_id == nil then
    fail("conversion_id (AW-...) is required for gtag conversions")
  end
  local conversion_id = params.conversion_id
  if conversion_id:starts_with("AW-") then conversion_id = conversion_id:sub(4) end
  if email or phone then
    pixel({
      vendor = "gtag",
      command = "set",
      args = { "user_data", { sha256_email_address = email, sha256_phone_number = phone } },
    })
  end
  local gtag_params = { send_to = "AW-" .. conversion_id .. "/" .. label, transaction_id = order_id }
  if value ~= nil then
    gtag_params.value = value
    gtag_params.currency = currency
  end
  pixel({ vendor = "gtag", command = "event", args = { "conversion", gtag_params } })
end
