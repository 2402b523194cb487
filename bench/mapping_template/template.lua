-- A realistic mapping tag for the benchmark: 20-field hit in, a 15-field request body and
-- one pixel command out (shaped like a conversions API call).
local name = params.event_names[event.get("event")] or event.get("event")
local data = event.get("data") or {}
local user = event.get("user") or {}
local click = event.get("click") or {}

local body = {
  event_name = name,
  event_id = event.get("event_id"),
  event_time = event.get("server.event_time_ms") // 1000,
  action_source = "website",
  event_source_url = event.get("page.url"),
  client_ip_address = event.get("server.client_ip"),
  client_user_agent = event.get("server.user_agent"),
  em = user.em,
  ph = user.ph,
  fn = user.fn,
  fbc = click.fbc,
  fbp = click.fbp,
  value = data.value,
  currency = data.currency,
  order_id = data.transaction_id,
}

send_http({ url = params.endpoint, method = "POST", body = { data = { body } } })
pixel({ vendor = "fbq", command = "track", args = { name, { value = data.value, currency = data.currency }, { eventID = body.event_id } } })
