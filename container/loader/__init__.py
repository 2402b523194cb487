"""The browser loader: its JavaScript sources, how they are built per container, and
the routes that serve them."""

from container.loader.bundle import Asset, build_loader, build_pixels, loader_scripts, snippet
from container.loader.endpoint import LOADER_PATH, LoaderFiles

__all__ = [
    "LOADER_PATH",
    "Asset",
    "LoaderFiles",
    "build_loader",
    "build_pixels",
    "loader_scripts",
    "snippet",
]
