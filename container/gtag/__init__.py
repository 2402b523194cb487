"""The GA4 intake: gtag.js (`/g/collect`) and the Measurement Protocol (`/mp/collect`)
translated into tagwire hits and run through `/collect`, so a site can point its existing
gtag.js at tagwire (`server_container_url`/`transport_url`). See docs/gtag.md."""

from container.gtag.endpoint import GtagEndpoint, MeasurementProtocolEndpoint

__all__ = ["GtagEndpoint", "MeasurementProtocolEndpoint"]
