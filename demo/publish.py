"""The demo runs the way production does: from a signed version published to `live`.

On first start in a data dir, the demo makes a signing key pair there (unless the
settings name one), imports the bundled container, creates version 1 and publishes it.
Later starts find the version and publish nothing, so versions a user made with
`tagwire version create` and `tagwire publish` survive a restart.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.file_modes import make_private_dir
from config.publishing import LIVE, ControlPlane, ControlPlaneStore
from config.settings import Settings
from config.signing import generate_keypair

__all__ = ["DEMO_ACTOR", "DemoKeyError", "demo_keys", "publish_demo"]

DEMO_ACTOR = "tagwire demo"
PRIVATE_KEY = "demo-signing.key"
PUBLIC_KEY = "demo-signing.pub"


class DemoKeyError(ValueError):
    """Half a key pair is configured: versions signed by one would be refused by the other."""


def demo_keys(settings: Settings) -> Settings:
    """Settings naming a signing key pair: the configured one, or one made in the data
    dir on first use (the private key readable by its owner only)."""
    configured = (settings.signing_key_file, settings.signing_public_key_file)
    if None not in configured:
        return settings
    if configured != (None, None):
        raise DemoKeyError(
            "set both TAGWIRE_SIGNING_KEY_FILE and TAGWIRE_SIGNING_PUBLIC_KEY_FILE (a pair), "
            "or neither and the demo makes its own pair"
        )
    private, public = settings.data_dir / PRIVATE_KEY, settings.data_dir / PUBLIC_KEY
    if not private.exists():
        make_private_dir(settings.data_dir)  # 0700 when it is new, as the store makes it
        private_pem, public_pem = generate_keypair()
        _write(private, private_pem, 0o600)
        _write(public, public_pem, 0o644)
    return dataclasses.replace(settings, signing_key_file=private, signing_public_key_file=public)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


async def publish_demo(
    store: ControlPlaneStore, signer: Ed25519PrivateKey | None, doc: dict[str, Any]
) -> int | None:
    """Publish the bundled document as version 1 to `live`, signed by `signer`, when the
    store has no version of it; returns the version published, or None when there was
    one already."""
    container_id = doc["container"]["id"]
    if await store.latest_version(container_id) is not None:
        return None
    control = ControlPlane(store, signer=signer)
    await control.import_document(doc, DEMO_ACTOR, "bundled demo container")
    version = await control.create_version(container_id, DEMO_ACTOR, "bundled demo container")
    await control.publish(container_id, version.number, LIVE, DEMO_ACTOR)
    return version.number
