"""Where tag secrets (platform access tokens) come from in this release.

A tag parameter of type `secret` holds a secret's *name*; the template reads the value
with `secret("param")`. Values never live in container documents. In this release a node
reads them from environment variables `TAGWIRE_SECRET_<NAME>` (name upper-cased, `-` as
`_`); encrypted storage managed by the control plane replaces this later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

__all__ = ["env_secrets"]


def env_secrets(env: Mapping[str, str] | None = None) -> Callable[[str], str | None]:
    source = os.environ if env is None else env

    def lookup(name: str) -> str | None:
        return source.get("TAGWIRE_SECRET_" + name.upper().replace("-", "_")) or None

    return lookup
