"""Node settings from `TAGWIRE_*` environment variables and an optional TOML file.

Each setting is declared once in `SPECS` (name, default, parser, help) so that loading,
validation and the documentation table in docs/settings.md come from one place. A bad value
stops start-up with a `SettingsError` naming the setting and the reason.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.egress import EgressPolicy
from config.secret_box import SecretBox

__all__ = ["SPECS", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "TAGWIRE_"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SETTINGS_FILE_ENV = "TAGWIRE_SETTINGS_FILE"


class SettingsError(Exception):
    """A setting has a value tagwire cannot run with."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("tagwire-data")
    database_url: str = field(default="", repr=False)  # a PostgreSQL URL may hold a password
    containers: tuple[Path, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    cookie_domain: str = ""
    log_level: str = "info"
    sender: bool = True
    admin_ui: bool = True
    sender_concurrency: int = 8
    send_timeout: float = 10.0
    max_attempts: int = 17
    shutdown_grace_s: float = 10.0
    batch_flush_ms: int = 200
    fire_once_ttl_hours: int = 72
    idempotency_ttl_hours: int = 24
    bot_filter: bool = True
    max_hits_per_ip_minute: int = 600
    max_hits_per_client_minute: int = 120
    spike_multiple: float = 10.0
    spike_min_events: int = 100
    value_max: float = 100_000.0
    value_policy: str = "block"
    allow_http_loopback: bool = False
    egress_allow: EgressPolicy = EgressPolicy()  # noqa: RUF009 - frozen, shared safely
    meta_base_url: str = "https://graph.facebook.com"
    tiktok_base_url: str = "https://business-api.tiktok.com"
    linkedin_base_url: str = "https://api.linkedin.com"
    google_ads_base_url: str = "https://googleads.googleapis.com"
    ga4_base_url: str = "https://www.google-analytics.com"
    google_oauth_base_url: str = "https://oauth2.googleapis.com"
    linkedin_oauth_base_url: str = "https://www.linkedin.com"
    meta_pixel_script_url: str = "https://connect.facebook.net/en_US/fbevents.js"
    tiktok_pixel_script_url: str = "https://analytics.tiktok.com/i18n/pixel/events.js"
    linkedin_pixel_script_url: str = "https://snap.licdn.com/li.lms-analytics/insight.min.js"
    gtag_script_url: str = "https://www.googletagmanager.com/gtag/js"
    signing_key_file: Path | None = None
    signing_public_key_file: Path | None = None
    secrets_key: str = field(default="", repr=False)
    reload_interval_s: float = 2.0
    environments: tuple[str, ...] = ()
    config_url: str = ""
    config_token: str = field(default="", repr=False)
    max_url_bytes: int = 8192
    max_headers: int = 100
    max_header_bytes: int = 32768
    tag_deadline_ms: int = 1500
    tag_workers: int = 4
    tag_queue: int = 256
    db_pool_min: int = 1
    db_pool_max: int = 10
    preview: bool = True
    preview_traces: int = 500
    preview_retention_hours: int = 24
    retention_days: int = 90

    @property
    def postgres(self) -> bool:
        """Whether database_url names a PostgreSQL database rather than a SQLite file."""
        return self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> Path:
        """Where the embedded SQLite database lives (database_url wins over data_dir)."""
        if self.database_url:
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.data_dir / "tagwire.db"


def _text(value: str) -> str:
    return value.strip()


def _integer(value: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"must be a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not 0.1 <= number <= 300:
        raise ValueError("must be from 0.1 to 300 seconds")
    return number


def _number(value: str, low: float, high: float) -> float:
    bounds = " to ".join(f"{n:f}".rstrip("0").rstrip(".") for n in (low, high))
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"must be a number from {bounds}") from None
    if not low <= number <= high:  # also refuses nan
        raise ValueError(f"must be a number from {bounds}")
    return number


def _value_policy(value: str) -> str:
    policy = value.strip().lower()
    if policy not in ("block", "flag"):
        raise ValueError("must be block or flag")
    return policy


def _switch(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise ValueError("must be on or off")


def _log_level(value: str) -> str:
    level = value.strip().lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ValueError("must be one of debug, info, warning, error")
    return level


def _database_url(value: str) -> str:
    url = value.strip()
    if not url:
        return ""
    if url.startswith(POSTGRES_SCHEMES):
        if url in POSTGRES_SCHEMES:
            raise ValueError("must name a database: postgresql://USER@HOST:PORT/DATABASE")
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(url)
        except Error:  # its message quotes the URL, password and all: not repeated
            raise ValueError(
                "is not a PostgreSQL URL that libpq can read: postgresql://USER@HOST:PORT/DATABASE"
            ) from None
        return url
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise ValueError(
            "must look like sqlite:///path/to/tagwire.db or postgresql://USER@HOST/DATABASE"
        )
    return url


def _paths(value: str) -> tuple[Path, ...]:
    return tuple(Path(part.strip()) for part in value.split(",") if part.strip())


def _proxies(value: str) -> tuple[Network, ...]:
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR range") from None
    return tuple(networks)


_DOMAIN = re.compile(r"\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _cookie_domain(value: str) -> str:
    domain = value.strip().lower()
    if domain and not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{value!r} is not a domain such as client.com")
    return domain.lstrip(".")


def _base_url(value: str) -> str:
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return url


def _optional_path(value: str) -> Path | None:
    return Path(value.strip()) if value.strip() else None


def _secrets_key(value: str) -> str:
    text = value.strip()
    if text:
        try:
            SecretBox.from_text(text)
        except ValueError as exc:  # its message starts with the setting's name: say it once
            raise ValueError("the key " + str(exc).removeprefix("TAGWIRE_SECRETS_KEY ")) from None
    return text


_ENV_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _environments(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not an environment name (lower-case letters, digits and '-')"
            )
    return names


def _config_url(value: str) -> str:
    if not value.strip():
        return ""
    url = _base_url(value)
    parts = urlsplit(url)
    if parts.username is not None:
        raise ValueError("must not hold credentials; put the admin token in TAGWIRE_CONFIG_TOKEN")
    if parts.scheme != "https" and not _loopback(parts.hostname or ""):
        raise ValueError(
            "must be https (the admin token goes with every request), except to a loopback "
            "address such as 127.0.0.1"
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ADMIN_TOKEN = re.compile(r"tw_[A-Za-z0-9_-]+")


def _config_token(value: str) -> str:
    text = value.strip()
    if text and not _ADMIN_TOKEN.fullmatch(text):
        raise ValueError("must be an admin token (tw_...) from 'tagwire tokens create --admin'")
    return text


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    parse: Callable[[str], Any]
    help: str


SPECS: tuple[Spec, ...] = (
    Spec("host", _text, "Address `tagwire serve` binds to."),
    Spec(
        "port",
        lambda v: _integer(v, 0, 65535),
        "Port `tagwire serve` listens on (0 picks a free one).",
    ),
    Spec("data_dir", lambda v: Path(v.strip()), "Folder for the embedded SQLite database."),
    Spec(
        "database_url",
        _database_url,
        "`sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB`; empty: `DATA_DIR/tagwire.db`.",
    ),
    Spec("containers", _paths, "Comma-separated container document files to serve."),
    Spec(
        "trusted_proxies", _proxies, "Comma-separated IPs/CIDRs whose X-Forwarded-For is believed."
    ),
    Spec("cookie_domain", _cookie_domain, "Domain of the `tw_id` cookie; empty means host-only."),
    Spec("log_level", _log_level, "debug, info, warning or error."),
    Spec("sender", _switch, "on: this node delivers the outbox; off: ingest only."),
    Spec(
        "admin_ui",
        _switch,
        "on: serve the admin UI under /admin/; off: this node shows no admin pages.",
    ),
    Spec("sender_concurrency", lambda v: _integer(v, 1, 256), "Requests in flight per node."),
    Spec("send_timeout", _seconds, "Timeout of one delivery request, in seconds."),
    Spec("max_attempts", lambda v: _integer(v, 1, 100), "Attempts before a request is dead."),
    Spec("shutdown_grace_s", _seconds, "Seconds SIGTERM gives sends in flight to finish."),
    Spec(
        "batch_flush_ms",
        lambda v: _integer(v, 1, 60_000),
        "Longest wait, in ms, for a destination's batch to fill before it is sent.",
    ),
    Spec(
        "fire_once_ttl_hours",
        lambda v: _integer(v, 48, 8760),
        "Hours a fire-once key is kept (48 to 8760).",
    ),
    Spec(
        "idempotency_ttl_hours",
        lambda v: _integer(v, 1, 720),
        "Hours a Fire API answer is replayed for its Idempotency-Key.",
    ),
    Spec("bot_filter", _switch, "on: hits from known bots and crawlers fire no tag."),
    Spec(
        "max_hits_per_ip_minute",
        lambda v: _integer(v, 0, 1_000_000),
        "Hits per minute accepted from one IP address (0: no limit).",
    ),
    Spec(
        "max_hits_per_client_minute",
        lambda v: _integer(v, 0, 1_000_000),
        "Hits per minute accepted from one client id (0: no limit).",
    ),
    Spec(
        "spike_multiple",
        lambda v: _number(v, 1.1, 1000),
        "How many times its usual rate an event must reach to be held as a spike.",
    ),
    Spec(
        "spike_min_events",
        lambda v: _integer(v, 1, 1_000_000),
        "Events per minute below which no spike is declared.",
    ),
    Spec(
        "value_max",
        lambda v: _number(v, 0.01, 1e12),
        "Largest conversion value accepted without the value guard acting.",
    ),
    Spec("value_policy", _value_policy, "block or flag: what the value guard does."),
    Spec("allow_http_loopback", _switch, "on: templates may send plain http to loopback hosts."),
    Spec(
        "egress_allow",
        EgressPolicy.parse,
        "Comma-separated host names (`*.` for subdomains), IPs and CIDRs the sender may "
        "reach although they are loopback, private, link-local or metadata addresses.",
    ),
    Spec("meta_base_url", _base_url, "Meta Graph API base URL (tests point it at a fake)."),
    Spec("tiktok_base_url", _base_url, "TikTok Business API base URL."),
    Spec("linkedin_base_url", _base_url, "LinkedIn REST API base URL."),
    Spec("google_ads_base_url", _base_url, "Google Ads API base URL."),
    Spec("ga4_base_url", _base_url, "GA4 Measurement Protocol base URL."),
    Spec("google_oauth_base_url", _base_url, "Google OAuth token endpoint's base URL."),
    Spec("linkedin_oauth_base_url", _base_url, "LinkedIn OAuth token endpoint's base URL."),
    Spec("meta_pixel_script_url", _base_url, "Meta Pixel library the loader inserts."),
    Spec("tiktok_pixel_script_url", _base_url, "TikTok Pixel library the loader inserts."),
    Spec("linkedin_pixel_script_url", _base_url, "LinkedIn Insight Tag library."),
    Spec("gtag_script_url", _base_url, "Google tag (gtag.js) library; `?id=` is appended."),
    Spec(
        "signing_key_file",
        _optional_path,
        "Private key that signs new versions (control plane only; `tagwire keys generate`).",
    ),
    Spec(
        "signing_public_key_file",
        _optional_path,
        "Public key a node verifies versions with; set, the node serves published versions.",
    ),
    Spec(
        "secrets_key",
        _secrets_key,
        "AES-256 key (base64) that encrypts stored tag secrets; `tagwire secrets key` makes one.",
    ),
    Spec(
        "reload_interval_s",
        _seconds,
        "Seconds between a node's checks for newly published versions and rotated secrets.",
    ),
    Spec(
        "environments",
        _environments,
        "Comma-separated environments this node serves (e.g. live); empty serves all.",
    ),
    Spec(
        "config_url",
        _config_url,
        "Base URL of a control-plane node to pull signed versions and sealed secrets from.",
    ),
    Spec(
        "config_token",
        _config_token,
        "Admin token this node reads the control plane's config API with.",
    ),
    Spec(
        "max_url_bytes",
        lambda v: _integer(v, 1024, 1_048_576),
        "Longest request target (path and query), in bytes; longer is refused with 414.",
    ),
    Spec(
        "max_headers",
        lambda v: _integer(v, 16, 10_000),
        "Most header fields in one request; more is refused with 431.",
    ),
    Spec(
        "max_header_bytes",
        lambda v: _integer(v, 4096, 1_048_576),
        "Most bytes of header names and values in one request; more is refused with 431.",
    ),
    Spec(
        "tag_deadline_ms",
        lambda v: _integer(v, 100, 60_000),
        "Wall-clock safety net of one tag run, in ms; a run past it is retried later.",
    ),
    Spec(
        "tag_workers",
        lambda v: _integer(v, 1, 64),
        "Threads that run tag templates; one container uses at most one at a time.",
    ),
    Spec(
        "tag_queue",
        lambda v: _integer(v, 1, 100_000),
        "Requests that may wait for one container's tags; more are answered 503.",
    ),
    Spec(
        "db_pool_min",
        lambda v: _integer(v, 1, 100),
        "PostgreSQL connections a node keeps open (1-100); not used with SQLite.",
    ),
    Spec(
        "db_pool_max",
        lambda v: _integer(v, 1, 100),
        "Most PostgreSQL connections a node opens (1-100, at least TAGWIRE_DB_POOL_MIN).",
    ),
    Spec(
        "preview",
        _switch,
        "on: a hit with a valid preview cookie runs its session; off: every hit runs live.",
    ),
    Spec(
        "preview_traces",
        lambda v: _integer(v, 10, 10_000),
        "Traces kept per preview session, newest first (10 to 10,000).",
    ),
    Spec(
        "preview_retention_hours",
        lambda v: _integer(v, 1, 720),
        "Hours preview traces are kept, and ended sessions with them (1 to 720).",
    ),
    Spec(
        "retention_days",
        lambda v: _integer(v, 0, 3650),
        "Days sent rows and their history are kept (0: forever; dead rows always stay).",
    ),
)

assert [s.name for s in SPECS] == [f.name for f in fields(Settings)]


def _file_values(path: Path) -> dict[str, str]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{SETTINGS_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    known = {spec.name for spec in SPECS}
    values: dict[str, str] = {}
    for key, value in raw.items():
        if key not in known:
            raise SettingsError(f"{path}: unknown setting '{key}'")
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            value = "on" if value else "off"
        elif not isinstance(value, str | int | float):
            raise SettingsError(f"{path}: {key}: must be a string, number, boolean or list")
        values[key] = str(value)
    return values


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None
) -> Settings:
    """Settings from (lowest to highest) defaults, the settings file, env vars, overrides.

    `overrides` carries command-line flags such as `--port`.
    """
    env = os.environ if env is None else env
    settings_file = env.get(SETTINGS_FILE_ENV, "").strip()
    sources: list[tuple[str, dict[str, str]]] = []
    if settings_file:
        sources.append((settings_file, _file_values(Path(settings_file))))
    sources.append(
        (
            "env",
            {
                s.name: env[ENV_PREFIX + s.name.upper()]
                for s in SPECS
                if ENV_PREFIX + s.name.upper() in env
            },
        )
    )
    sources.append(("flag", dict(overrides or {})))
    values: dict[str, Any] = {}
    hidden = {f.name for f in fields(Settings) if not f.repr}  # keys and tokens: never echoed
    for origin, raw in sources:
        for spec in SPECS:
            if spec.name not in raw:
                continue
            label = {
                "env": ENV_PREFIX + spec.name.upper(),
                "flag": f"--{spec.name.replace('_', '-')}",
            }.get(origin, f"{origin}: {spec.name}")
            try:
                values[spec.name] = spec.parse(raw[spec.name])
            except ValueError as exc:
                got = "" if spec.name in hidden else f" (got {raw[spec.name]!r})"
                raise SettingsError(f"{label}: {exc}{got}") from None
    settings = Settings(**values)
    if settings.db_pool_min > settings.db_pool_max:
        raise SettingsError(
            f"TAGWIRE_DB_POOL_MIN ({settings.db_pool_min}) is larger than TAGWIRE_DB_POOL_MAX "
            f"({settings.db_pool_max}); raise the maximum or lower the minimum"
        )
    return settings
