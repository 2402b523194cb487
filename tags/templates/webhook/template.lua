-- Generic webhook: POST the mapped event as JSON to the URL in the tag's parameters.
-- The payload carries only what the hit holds in safe form (hashed user identifiers,
-- click ids, commerce data); client IP and user agent only when include_client is on.
local name = event.get("event")

local body = {
  event = params.event_names[name] or name,
  event_id = event.get("event_id"),
  event_time_ms = event.get("server.event_time_ms"),
  page_url = event.get("page.url"),
  data = event.get("data") or {},
  user = event.get("user") or {},
  click = event.get("click") or {},
  custom = event.get("custom") or {},
  client_id = event.get("server.client_id"),
}
-- a test fire's code, so the receiver can tell a test from a real event
body.test_event_code = event.get("server.test_event_code")
if params.include_client then
  body.client_ip = event.get("server.client_ip")
  body.user_agent = event.get("server.user_agent")
end

local headers = { ["content-type"] = "application/json" }
for header, value in pairs(params.headers) do
  headers[header] = value
end

send_http({ url = params.url, method = "POST", headers = headers, body = body })
