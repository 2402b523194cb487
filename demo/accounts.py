"""The demo's admin UI account: an agency owner who can sign in at `/admin/` at once, and a
demo client that the bundled container belongs to.

The password is made on first start and kept in the data dir (readable by its owner only),
so the banner can print it on every start; a real installation makes its first owner with
`tagwire users create EMAIL --name NAME --owner` instead.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from admin_ui.people import People
from config.storage import AccountStore

__all__ = ["DEMO_CLIENT", "DEMO_OWNER", "demo_owner"]

DEMO_OWNER = "owner@demo.example"
DEMO_CLIENT = "demo-client"
OWNER_FILE = "demo-owner.password"
ACTOR = "tagwire demo"


def _password(data_dir: Path) -> str:
    path = data_dir / OWNER_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(password + "\n")
    return password


async def demo_owner(store: AccountStore, data_dir: Path, container_id: str) -> tuple[str, str]:
    """Make the demo owner and client on first start (and put the container in the client
    when it belongs to none); the owner's email and password."""
    password = _password(data_dir)
    if await store.find_user(DEMO_OWNER) is None:
        await People(store).create_user(
            DEMO_OWNER, "Demo Owner", password, agency_admin=True, actor=ACTOR
        )
    if await store.get_client(DEMO_CLIENT) is None:
        await store.create_client(DEMO_CLIENT, "Demo client", ACTOR, People(store).clock())
    if await store.container_client(container_id) is None:
        await store.assign_container(container_id, DEMO_CLIENT, ACTOR, People(store).clock())
    return DEMO_OWNER, password
