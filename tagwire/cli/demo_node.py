"""What `tagwire serve --demo` adds to a node: the demo site and receiver, the fake
platforms under `/fake`, a signing key pair, and the bundled container published to live.

Only `serve --demo` imports this module; it is the one path from the command to the demo
and the fakes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute

from config.schema import validate_document
from config.settings import Settings
from demo import DemoReceiver, demo_document, demo_routes, demo_secrets
from demo.accounts import demo_owner
from demo.publish import DemoKeyError, demo_keys, publish_demo
from fake_platforms import FakePlatforms, base_urls, pixel_script_urls
from tagwire.cli.common import CommandError, UsageError, load_signer, with_store

__all__ = ["DemoNode", "prepare_demo"]

SecretLookup = Callable[[str], str | None]


@dataclasses.dataclass(frozen=True, slots=True)
class DemoNode:
    """The settings, secret lookup and routes a demo node runs with, and what to print."""

    settings: Settings
    secrets: SecretLookup
    routes: list[BaseRoute]
    banner: list[str]


def prepare_demo(
    settings: Settings, host: str, display_host: str, port: int, secrets: SecretLookup
) -> DemoNode:
    """Publish the bundled container (first start only) and point its tags at the fakes."""
    receiver_host = "127.0.0.1" if host in ("0.0.0.0", "::") else display_host  # noqa: S104
    doc = demo_document(f"http://{receiver_host}:{port}/demo/receiver")
    issues = validate_document(doc)
    if issues:
        raise CommandError("bundled demo container is invalid: " + "; ".join(map(str, issues)))
    # The demo's platform tags send to the fake platforms this node serves under /fake,
    # and the loader inserts the fakes' stand-in pixel libraries.
    platforms = FakePlatforms()
    routes = demo_routes(DemoReceiver(), platforms)
    fakes = f"http://{receiver_host}:{port}/fake"
    try:
        keyed = demo_keys(settings)
    except DemoKeyError as exc:
        raise UsageError(str(exc)) from None
    fake_urls: dict[str, Any] = {**base_urls(fakes), **pixel_script_urls(fakes)}
    # The fakes and the receiver are this node, on a loopback (or local) address that the
    # egress policy refuses by default: allow exactly that host.
    egress = keyed.egress_allow.allowing(receiver_host)
    settings = dataclasses.replace(
        keyed, allow_http_loopback=True, egress_allow=egress, **fake_urls
    )
    signer = load_signer(settings)
    published = with_store(settings, lambda store: publish_demo(store, signer, doc), create=True)
    container_id = doc["container"]["id"]
    email, password = with_store(
        settings, lambda store: demo_owner(store, settings.data_dir, container_id)
    )
    base = f"http://{display_host}:{port}"
    banner = [
        f"demo site:        {base}/demo/",
        f"admin UI:         {base}/admin/  (sign in as {email}, password {password})",
        f"delivered events: {base}/demo/events",
        f"fake platforms:   {base}/fake/_fake/",
    ]
    if published is not None:
        banner.append(f"published the bundled demo container as version {published} to live")
    banner.append(f"signing key:      {settings.signing_key_file} (TAGWIRE_SIGNING_KEY_FILE)")
    defaults = demo_secrets()
    return DemoNode(settings, lambda name: secrets(name) or defaults.get(name), routes, banner)
