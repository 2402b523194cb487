"""The agency admin UI: server-rendered pages under `/admin/` over the control plane's actions."""

from admin_ui.web.app import AdminUI

__all__ = ["AdminUI"]
