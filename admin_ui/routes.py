"""The control plane's HTTP surface, for `tagwire serve` to mount beside the data plane."""

from __future__ import annotations

from starlette.routing import BaseRoute

from admin_ui.admin_api import AdminEndpoint
from admin_ui.config_api import ConfigEndpoint
from config.storage import Store

__all__ = ["control_plane_routes"]


def control_plane_routes(store: Store) -> list[BaseRoute]:
    """The admin API (outbox and history) and the config API that edge nodes pull from."""
    return [*AdminEndpoint(store).routes(), *ConfigEndpoint(store).routes()]
