-- Meta: one Conversions API event and, for website hits, one browser Pixel command that
-- carries the same event id, so Meta keeps a single copy (docs/platforms/meta.md).

-- Canonical tagwire events and their Meta names; the tag's event_names param overrides
-- entries. Events missing here go out under the hit's own name, as custom events.
local NAMES = {
  page_view = "PageView",
  view_content = "ViewContent",
  lead = "Lead",
  qualified_lead = "QualifiedLead",
  purchase = "Purchase",
  complete_registration = "CompleteRegistration",
  add_to_cart = "AddToCart",
  add_to_wishlist = "AddToWishlist",
  initiate_checkout = "InitiateCheckout",
  add_payment_info = "AddPaymentInfo",
  search = "Search",
  contact = "Contact",
  subscribe = "Subscribe",
  schedule = "Schedule",
  start_trial = "StartTrial",
  submit_application = "SubmitApplication",
  download = "Download",
}

-- Meta's standard events: the Pixel sends these with trackSingle, any other name with
-- trackSingleCustom.
local STANDARD = {
  AddPaymentInfo = true, AddToCart = true, AddToWishlist = true, CompleteRegistration = true,
  Contact = true, CustomizeProduct = true, Donate = true, FindLocation = true,
  InitiateCheckout = true, Lead = true, PageView = true, Purchase = true, Schedule = true,
  Search = true, StartTrial = true, SubmitApplication = true, Subscribe = true,
  ViewContent = true,
}

local COOKIE_AGE = 7776000 -- 90 days, the lifetime Meta's own helper gives _fbc and _fbp
local FBP_RANGE = 2147483648 -- the random part of _fbp is 0..2147483647

local function present(value)
  return value ~= nil and value ~= ""
end

-- The part after "fb.<subdomain index>.<creation ms>." of an _fbc/_fbp value (the click
-- id or random number, plus an appendix if Meta added one), or nil when malformed.
local function payload_of(id)
  if not present(id) then return nil end
  local parts = id:split(".")
  if #parts < 4 or parts[1] ~= "fb" or parts[2] == "" or parts[3] == "" or parts[4] == "" then
    return nil
  end
  return table.concat(parts, ".", 4)
end

local function well_formed(id)
  if payload_of(id) then return id end
  return nil
end

local hit_event = event.get("event")
local event_id = event.get("event_id")
local override = params.event_names[hit_event]
if not present(override) then override = nil end
local name = override or NAMES[hit_event] or hit_event
local action_source = event.get("server.action_source")
local website = action_source == "website"
local to_server = params.send_server
local to_browser = params.send_browser and website
if not to_server and not to_browser then return end

-- custom_data: the same parameters go to the server event and to the Pixel.
local value = event.get("data.value")
local currency = event.get("data.currency")
if value == nil and (hit_event == "purchase" or name == "Purchase") then
  fail("purchase without a value: Meta needs value and currency on Purchase")
end
local custom = {}
if value ~= nil then
  currency = currency or params.default_currency
  if not currency then
    fail("value without a currency: set data.currency or the default_currency parameter")
  end
  custom.value = value
end
custom.currency = currency

local ids = event.get("data.content_ids")
if ids and #ids > 0 then custom.content_ids = ids end
local contents = event.get("data.contents")
if contents and #contents > 0 then
  local list = {}
  for i, item in ipairs(contents) do
    list[i] = { id = item.id, quantity = item.quantity, item_price = item.item_price }
  end
  custom.contents = list
end
local TEXT_KEYS = { "content_type", "content_name", "content_category", "search_string", "status" }
for _, key in ipairs(TEXT_KEYS) do
  local text = event.get("data." .. key)
  if present(text) then custom[key] = text end
end
custom.num_items = event.get("data.num_items")
local order_id = event.get("data.transaction_id")
if present(order_id) then custom.order_id = order_id end

local event_ms = math.floor(event.get("server.event_time_ms"))

-- Browser ids. Cookies belong to the visitor's browser only on website hits; offline hits
-- come from a back office, so only the ids the hit itself carries are used for them.
local cookie_fbc, cookie_fbp
if website then
  cookie_fbc = cookies.get("_fbc")
  cookie_fbp = cookies.get("_fbp")
end

local fbc = well_formed(event.get("click.fbc")) or well_formed(cookie_fbc)
local fbclid = event.get("click.fbclid")
if present(fbclid) then
  local payload = payload_of(fbc)
  local same = payload ~= nil and (payload == fbclid or payload:starts_with(fbclid .. "."))
  if not same then
    -- a new click replaces the stored one; the click id is used exactly as received
    fbc = "fb.1." .. event_ms .. "." .. fbclid
    if website then cookies.set("_fbc", fbc, { max_age = COOKIE_AGE }) end
  end
end

local fbp = well_formed(event.get("click.fbp")) or well_formed(cookie_fbp)
if not fbp and website then
  local number = tonumber(hash.sha256(event_id):sub(1, 8), 16) % FBP_RANGE
  fbp = "fb.1." .. event_ms .. "." .. number
  cookies.set("_fbp", fbp, { max_age = COOKIE_AGE })
end

if to_server then
  local user = {}
  local hashed = {
    em = "user.em", ph = "user.ph_d", fn = "user.fn", ln = "user.ln", ct = "user.ct",
    st = "user.st", zp = "user.zp", country = "user.country", external_id = "user.external_id",
  }
  for key, field in pairs(hashed) do
    local digest = event.get(field)
    if present(digest) then user[key] = { digest } end
  end
  if website then
    local ip = event.get("server.client_ip")
    if present(ip) then user.client_ip_address = ip end
    local agent = event.get("server.user_agent")
    if present(agent) then user.client_user_agent = agent end
  end
  user.fbc = fbc
  user.fbp = fbp

  local server_event = {
    event_name = name,
    event_time = event_ms // 1000,
    event_id = event_id,
    action_source = action_source,
    user_data = user,
  }
  if next(custom) ~= nil then server_event.custom_data = custom end
  if website then
    local url = event.get("page.url")
    if present(url) then server_event.event_source_url = url end
  end
  if params.limited_data_use then
    -- country and state 0: Meta works out from the IP address where LDU applies
    server_event.data_processing_options = { "LDU" }
    server_event.data_processing_options_country = 0
    server_event.data_processing_options_state = 0
  end

  local body = { data = { server_event }, access_token = secret("access_token") }
  -- the tag's own code wins; a Fire API request may bring one for its events
  local test_code = params.test_event_code
  if not present(test_code) then test_code = event.get("server.test_event_code") end
  if present(test_code) then body.test_event_code = test_code end
  send_http({
    url = "https://graph.facebook.com/" .. params.api_version .. "/" .. params.pixel_id
      .. "/events",
    method = "POST",
    headers = { ["content-type"] = "application/json" },
    body = body,
  })
end

if to_browser then
  if params.limited_data_use then
    -- the Pixel's own LDU call; the loader runs it before fbq('init')
    pixel({ vendor = "meta", command = "dataProcessingOptions", args = { { "LDU" }, 0, 0 } })
  end
  pixel({
    vendor = "meta",
    command = STANDARD[name] and "trackSingle" or "trackSingleCustom",
    args = { params.pixel_id, name, custom, { eventID = event_id } },
  })
end
