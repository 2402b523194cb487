"""The loader's two files as served: settings inlined, minified, gzipped, tagged.

Built once when the node starts, so serving is a dictionary lookup. The ETag is a hash of
the bytes, so a cache never keeps a loader whose settings or code changed.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson
import rjsmin

from config.publishing import LIVE
from config.settings import Settings
from variables.pii import simple_national_rule

__all__ = [
    "BASIC_WAIT_MS",
    "PIXELS_PATH",
    "Asset",
    "build_loader",
    "build_pixels",
    "collect_query",
    "country_config",
    "loader_scripts",
    "snippet",
]

HERE = Path(__file__).parent
PLACEHOLDER = "TAGWIRE_CONFIG"
PIXELS_PATH = "/loader-consented.js"
# Under the basic policy, how long hits wait for a consent signal before going out without
# one (Consent Mode's `wait_for_update` plays the same role for Google tags).
BASIC_WAIT_MS = 500


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str

    @property
    def version(self) -> str:
        """The ETag without quotes: the `v` of the long-cached URL."""
        return self.etag.strip('"')

    @classmethod
    def of(cls, body: bytes) -> Asset:
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, gzip.compress(body, 9, mtime=0), f'"{digest}"')


def loader_scripts(settings: Settings) -> dict[str, str]:
    """Vendor library URLs the loader may insert, keyed by the pixel vendor names."""
    return {
        "meta": settings.meta_pixel_script_url,
        "tiktok": settings.tiktok_pixel_script_url,
        "linkedin": settings.linkedin_pixel_script_url,
        "gtag": settings.gtag_script_url,
    }


def _source(name: str) -> str:
    """The file minified: comments and whitespace go, names and code stay as written."""
    minified: str = rjsmin.jsmin((HERE / name).read_text(encoding="utf-8"))  # rjsmin is untyped
    return minified + "\n"


def build_pixels() -> Asset:
    """The vendor part, the same for every container."""
    return Asset.of(_source("consented.js").encode("utf-8"))


def country_config(default_country: str | None) -> dict[str, str] | None:
    """The container's `default_country` as the loader reads national phone numbers with
    it: the calling code and national (trunk) prefix, when dropping the prefix and putting
    the calling code in front gives the number the server would hash (`variables.pii`).
    `{}` for a country without such a rule: the browser drops national numbers there and
    leaves them to the server. None: no default country."""
    if default_country is None:
        return None
    rule = simple_national_rule(default_country)
    if rule is None:
        return {}
    dial, prefix = rule
    return {"dial": dial, "prefix": prefix}


def build_loader(
    container_id: str,
    policy: str,
    scripts: dict[str, str],
    pixels: Asset,
    *,
    env: str = LIVE,
    default_country: str | None = None,
) -> Asset:
    """The loader of one environment of a container; its hits go to `/collect?` + `q`.

    `default_country` (ISO 3166-1 alpha-2) makes the browser hash national phone numbers
    as the server does; a bad one raises ValueError, as in `variables.pii`."""
    config: dict[str, object] = {
        "q": collect_query(container_id, env),
        "policy": policy,
        "scripts": scripts,
        "module": f"{PIXELS_PATH}?v={pixels.version}",
        "wait": BASIC_WAIT_MS,
        "page_view": True,
    }
    country = country_config(default_country)
    if country is not None:  # the loader's byte budget is tight: no key for "none"
        config["country"] = country
    text = _source("loader.js")
    if text.count(PLACEHOLDER) != 1:
        raise RuntimeError(f"loader.js must contain {PLACEHOLDER} exactly once")
    return Asset.of(text.replace(PLACEHOLDER, orjson.dumps(config).decode()).encode("utf-8"))


def collect_query(container_id: str, env: str = LIVE) -> str:
    """The `/collect` query string naming the container and environment (none for live)."""
    query = "id=" + quote(container_id, safe="")
    return query if env == LIVE else f"{query}&env={quote(env, safe='')}"


def snippet(loader_url: str) -> str:
    """The head snippet: a queue for calls made before the loader arrives, then the loader.

    `NONCE` stands for the page's CSP nonce, which changes on every response.
    """
    return (
        '<script nonce="NONCE">window.tagwire=window.tagwire||function(){'
        "(tagwire.q=tagwire.q||[]).push(arguments)}</script>\n"
        f'<script nonce="NONCE" src="{loader_url}" defer></script>'
    )
