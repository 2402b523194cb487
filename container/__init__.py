"""The data plane: `/collect`, the Fire API, the loader, guards, the hit pipeline, hot
reload and delivery. It never imports the control plane (`admin_ui`), the command
(`tagwire`), the demo or the fake platforms."""
