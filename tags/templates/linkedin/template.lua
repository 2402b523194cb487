-- LinkedIn: Conversions API (server) and Insight Tag (browser), one eventId for both.
-- LinkedIn has no event name on the wire: a tag maps canonical events to conversion rules.
-- NAMES gives the rule type to create for each canonical event (used in the hint logged
-- for an event the tag has no rule for).
local NAMES = {
  page_view = "KEY_PAGE_VIEW",
  view_content = "KEY_PAGE_VIEW",
  lead = "LEAD",
  qualified_lead = "QUALIFIED_LEAD",
  purchase = "PURCHASE",
  complete_registration = "SIGN_UP",
  add_to_cart = "ADD_TO_CART",
  add_to_wishlist = "OTHER",
  initiate_checkout = "OTHER",
  add_payment_info = "OTHER",
  search = "OTHER",
  contact = "OTHER",
  subscribe = "OTHER",
  schedule = "OTHER",
  start_trial = "SIGN_UP",
  submit_application = "SUBMIT_APPLICATION",
  download = "DOWNLOAD",
}

local CAPI_URL = "https://api.linkedin.com/rest/conversionEvents"
local LI_FAT_ID_AGE = 2592000 -- 30 days, the lifetime the Insight Tag gives li_fat_id
local MAX_CLICK_ID = 512 -- the longest click id a hit can carry

local function digits(s)
  if type(s) ~= "string" or #s == 0 or #s > 18 then return false end
  for i = 1, #s do
    local b = s:byte(i)
    if b < 48 or b > 57 then return false end
  end
  return true
end

-- RFC 6265 cookie-octet: printable ASCII except space, '"', ',', ';' and '\'
local function cookie_safe(s)
  if #s == 0 or #s > MAX_CLICK_ID then return false end
  for i = 1, #s do
    local b = s:byte(i)
    if b < 33 or b > 126 or b == 34 or b == 44 or b == 59 or b == 92 then return false end
  end
  return true
end

-- The click id: the hit's, else the li_fat_id cookie. Cookies belong to the visitor's
-- browser only on website hits; there a new, cookie-safe click id is stored, before the
-- mapping check, since the landing hit that brings it is seldom a conversion.
local website = event.get("server.action_source") == "website"
local li_fat_id = event.get("click.li_fat_id")
if website then
  local stored = cookies.get("li_fat_id")
  if stored == "" then stored = nil end
  if li_fat_id == nil then
    li_fat_id = stored
  elseif li_fat_id ~= stored and cookie_safe(li_fat_id) then
    cookies.set("li_fat_id", li_fat_id, { max_age = LI_FAT_ID_AGE })
  end
end

local name = event.get("event")
local event_id = event.get("event_id")
local rule = params.conversions[name]
local insight = params.insight_conversions[name]

if rule == nil and insight == nil then
  log("linkedin: no conversion rule mapped for '" .. name .. "' (rule type to create: "
    .. (NAMES[name] or "OTHER") .. "); nothing sent")
  return
end
if rule ~= nil and not digits(rule) then
  fail("conversions." .. name .. " must be the digits of a conversion rule id")
end
if insight ~= nil and not digits(insight) then
  fail("insight_conversions." .. name .. " must be the digits of an Insight Tag conversion id")
end

local value = event.get("data.value")
local currency = event.get("data.currency") or params.default_currency
if value ~= nil and currency == nil then
  fail("value without a currency: send data.currency or set default_currency")
end

-- The Conversions API has no test mode: a Fire API test event is not sent at all, so it
-- is never counted as a real conversion.
local to_server = params.send_server and rule ~= nil
local test_code = event.get("server.test_event_code")
if to_server and test_code ~= nil and test_code ~= "" then
  log("linkedin: test event '" .. name .. "' not sent: the Conversions API has no test mode")
  to_server = false
end

if to_server then
  local user_ids = {}
  local em = event.get("user.em")
  if em then
    user_ids[#user_ids + 1] = { idType = "SHA256_EMAIL", idValue = em }
  end
  if li_fat_id then
    user_ids[#user_ids + 1] = { idType = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", idValue = li_fat_id }
  end
  if #user_ids == 0 then
    log("linkedin: no hashed email and no li_fat_id for '" .. name
      .. "'; LinkedIn would reject the conversion, server call skipped")
  else
    local conversion = {
      conversion = "urn:lla:llaPartnerConversion:" .. rule,
      conversionHappenedAt = event.get("server.event_time_ms"),
      eventId = event_id,
      user = { userIds = user_ids },
    }
    if value ~= nil then
      conversion.conversionValue = { currencyCode = currency, amount = string.format("%.2f", value) }
    end
    if params.access_token == nil and params.refresh_token == nil then
      fail("refresh_token (or access_token) is required to send conversions to the Conversions API")
    end
    if params.refresh_token ~= nil and (params.client_id == nil or params.client_secret == nil) then
      fail("refresh_token needs client_id and client_secret")
    end
    local headers = {
      ["content-type"] = "application/json",
      ["LinkedIn-Version"] = params.api_version,
      ["X-Restli-Protocol-Version"] = "2.0.0",
    }
    if params.refresh_token ~= nil then
      -- the node swaps this for "Authorization: Bearer <fresh token>" as the request leaves
      headers["x-tagwire-oauth"] = "linkedin " .. secret("refresh_token") .. " "
        .. secret("client_id") .. " " .. secret("client_secret")
    else
      headers["Authorization"] = "Bearer " .. secret("access_token")
    end
    send_http({ url = CAPI_URL, method = "POST", headers = headers, body = conversion })
  end
end

if params.send_browser and insight ~= nil and website then
  if params.partner_id == nil then
    fail("partner_id is required for Insight Tag conversions")
  end
  pixel({
    vendor = "linkedin",
    command = "track",
    args = { params.partner_id, { conversion_id = tonumber(insight), event_id = event_id } },
  })
end
