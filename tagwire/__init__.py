"""The outer room: the `tagwire` command and the wiring that composes the data plane
(`container`) and the control plane (`admin_ui`) into one process."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("tagwire")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
