-- TikTok: one Events API 2.0 event and, for website hits, one browser Pixel command with
-- the same event id, so TikTok keeps a single copy (docs/platforms/tiktok.md).

-- Canonical tagwire events and their TikTok names; the tag's event_names param overrides
-- entries. Events missing here go out under the hit's own name, as custom events.
-- page_view is "Pageview" on the server; in the browser it is ttq.page().
local NAMES = {
  page_view = "Pageview",
  view_content = "ViewContent",
  lead = "SubmitForm",
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

local TTCLID_AGE = 2592000 -- 30 days, the usual attribution window of a TikTok click

local function present(value)
  return value ~= nil and value ~= ""
end

local hit_event = event.get("event")
local event_id = event.get("event_id")
local override = params.event_names[hit_event]
if not present(override) then override = nil end
local name = override or NAMES[hit_event] or hit_event
local action_source = event.get("server.action_source")
local website = action_source == "website"

-- Website events go to the pixel; offline ones (phone_call, chat, email, physical_store,
-- system_generated, other) to a CRM event set, which a pixel code cannot stand in for.
local to_server = params.send_server
local event_source, event_source_id = "web", params.pixel_code
if not website then
  event_source, event_source_id = "crm", params.crm_event_set_id
  if to_server and not present(event_source_id) then
    log("tiktok: skipped " .. action_source .. " event " .. name
      .. ": offline events need the crm_event_set_id parameter")
    to_server = false
  end
end
local to_browser = params.send_browser and website
if not to_server and not to_browser then return end

-- properties: the same object goes to the server event and to the Pixel.
local value = event.get("data.value")
local currency = event.get("data.currency")
if value == nil and (hit_event == "purchase" or name == "Purchase") then
  fail("purchase without a value: TikTok needs value and currency on Purchase")
end
local props = {}
if value ~= nil then
  currency = currency or params.default_currency
  if not currency then
    fail("value without a currency: set data.currency or the default_currency parameter")
  end
  props.value = value
end
props.currency = currency

local list = {}
local contents = event.get("data.contents")
if contents and #contents > 0 then
  for i, item in ipairs(contents) do
    list[i] = { content_id = item.id, price = item.item_price, quantity = item.quantity }
  end
else
  local ids = event.get("data.content_ids")
  for i, id in ipairs(ids or {}) do
    list[i] = { content_id = id }
  end
end
local content_name = event.get("data.content_name")
if not present(content_name) then content_name = nil end
-- the hit names its content once: that name belongs to an item only when there is one
if #list == 1 then list[1].content_name = content_name end
if #list > 0 then props.contents = list end
props.description = content_name
local content_type = event.get("data.content_type")
if present(content_type) then props.content_type = content_type end
local query = event.get("data.search_string")
if present(query) then props.query = query end
local order_id = event.get("data.transaction_id")
if present(order_id) then props.order_id = order_id end

-- Click ids: cookies belong to the visitor's browser only on website hits.
local ttclid = event.get("click.ttclid")
local ttp = event.get("click.ttp")
if website then
  local cookie_ttclid = cookies.get("ttclid")
  if present(ttclid) then
    if ttclid ~= cookie_ttclid then cookies.set("ttclid", ttclid, { max_age = TTCLID_AGE }) end
  else
    ttclid = cookie_ttclid
  end
  if not present(ttp) then ttp = cookies.get("_ttp") end
end

if to_server then
  local user = {}
  local function put(key, text)
    if present(text) then user[key] = text end
  end
  put("email", event.get("user.em"))
  put("phone", event.get("user.ph"))
  put("external_id", event.get("user.external_id"))
  put("ttclid", ttclid)
  put("ttp", ttp)

  local server_event = {
    event = name,
    event_time = math.floor(event.get("server.event_time_ms")) // 1000,
    event_id = event_id,
    limited_data_use = params.limited_data_use,
  }
  if website then
    put("ip", event.get("server.client_ip"))
    put("user_agent", event.get("server.user_agent"))
    local locale = event.get("page.locale")
    -- BCP 47 uses "-" ("en_GB" becomes "en-GB")
    if present(locale) then user.locale = locale:replace("_", "-") end
    local page = {}
    local url = event.get("page.url")
    if present(url) then page.url = url end
    local referrer = event.get("page.referrer")
    if present(referrer) then page.referrer = referrer end
    if next(page) ~= nil then server_event.page = page end
  end
  if next(user) ~= nil then server_event.user = user end
  if next(props) ~= nil then server_event.properties = props end

  local body = {
    event_source = event_source, event_source_id = event_source_id, data = { server_event },
  }
  -- the tag's own code wins; a Fire API request may bring one for its events
  local test_code = params.test_event_code
  if not present(test_code) then test_code = event.get("server.test_event_code") end
  if present(test_code) then body.test_event_code = test_code end
  -- a CRM event set may have a token of its own; without one the pixel's token is used
  local token_param = "access_token"
  if not website and present(params.crm_access_token) then token_param = "crm_access_token" end
  send_http({
    url = "https://business-api.tiktok.com/open_api/v1.3/event/track/",
    method = "POST",
    headers = { ["content-type"] = "application/json", ["Access-Token"] = secret(token_param) },
    body = body,
  })
end

if to_browser then
  -- Limited Data Use on the same condition as the server event: TikTok's Pixel takes it
  -- per event as a property (ttq.track(name, {limited_data_use: true})), and the page
  -- view carries it the same way.
  local browser_props = props
  if params.limited_data_use then
    browser_props = { limited_data_use = true }
    for k, v in pairs(props) do browser_props[k] = v end
  end
  if hit_event == "page_view" then
    local args = { params.pixel_code }
    if params.limited_data_use then args[2] = { limited_data_use = true } end
    pixel({ vendor = "tiktok", command = "page", args = args })
  else
    pixel({
      vendor = "tiktok",
      command = "track",
      args = { params.pixel_code, name, browser_props, { event_id = event_id } },
    })
  end
end
