import ipaddress
import re
from pathlib import Path

import pytest

from config.settings import SPECS, Settings, SettingsError, load_settings


def test_defaults():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.sqlite_path == Path("tagwire-data/tagwire.db")


def test_env_values_are_parsed():
    settings = load_settings(
        {
            "TAGWIRE_PORT": "9001",
            "TAGWIRE_DATA_DIR": "/var/lib/tagwire",
            "TAGWIRE_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1",
            "TAGWIRE_COOKIE_DOMAIN": ".Client.com",
            "TAGWIRE_SENDER": "off",
            "TAGWIRE_CONTAINERS": "a.json,b.yaml",
            "TAGWIRE_META_BASE_URL": "http://127.0.0.1:9999/",
        }
    )
    assert settings.port == 9001
    assert settings.sqlite_path == Path("/var/lib/tagwire/tagwire.db")
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::1/128"),
    )
    assert settings.cookie_domain == "client.com"
    assert settings.sender is False
    assert settings.containers == (Path("a.json"), Path("b.yaml"))
    assert settings.meta_base_url == "http://127.0.0.1:9999"


def test_delivery_and_guard_settings():
    defaults = load_settings({})
    assert (defaults.fire_once_ttl_hours, defaults.shutdown_grace_s, defaults.batch_flush_ms) == (
        72, 10.0, 200
    )  # fmt: skip
    assert (defaults.idempotency_ttl_hours, defaults.bot_filter) == (24, True)
    assert (defaults.max_hits_per_ip_minute, defaults.max_hits_per_client_minute) == (600, 120)
    assert (defaults.spike_multiple, defaults.spike_min_events) == (10.0, 100)
    assert (defaults.value_max, defaults.value_policy) == (100_000.0, "block")
    settings = load_settings(
        {
            "TAGWIRE_FIRE_ONCE_TTL_HOURS": "48",
            "TAGWIRE_SHUTDOWN_GRACE_S": "2.5",
            "TAGWIRE_BATCH_FLUSH_MS": "50",
            "TAGWIRE_IDEMPOTENCY_TTL_HOURS": "1",
            "TAGWIRE_BOT_FILTER": "off",
            "TAGWIRE_MAX_HITS_PER_IP_MINUTE": "0",
            "TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE": "30",
            "TAGWIRE_SPIKE_MULTIPLE": "3.5",
            "TAGWIRE_SPIKE_MIN_EVENTS": "20",
            "TAGWIRE_VALUE_MAX": "5000.5",
            "TAGWIRE_VALUE_POLICY": " Flag ",
        }
    )
    assert (settings.fire_once_ttl_hours, settings.shutdown_grace_s, settings.batch_flush_ms) == (
        48, 2.5, 50
    )  # fmt: skip
    assert (settings.idempotency_ttl_hours, settings.bot_filter) == (1, False)
    assert (settings.max_hits_per_ip_minute, settings.max_hits_per_client_minute) == (0, 30)
    assert (settings.spike_multiple, settings.spike_min_events) == (3.5, 20)
    assert (settings.value_max, settings.value_policy) == (5000.5, "flag")


def test_database_url_wins_over_data_dir():
    settings = load_settings({"TAGWIRE_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert settings.sqlite_path == Path("/tmp/x.db")
    assert not settings.postgres


@pytest.mark.parametrize("url", ["postgresql://tw@db.internal:5432/tagwire", "postgres://tw@db/t"])
def test_a_postgresql_url_selects_postgresql_with_the_pool_sizes(url):
    settings = load_settings(
        {"TAGWIRE_DATABASE_URL": url, "TAGWIRE_DB_POOL_MIN": "2", "TAGWIRE_DB_POOL_MAX": "20"}
    )
    assert (settings.postgres, settings.database_url) == (True, url)
    assert (settings.db_pool_min, settings.db_pool_max) == (2, 20)
    assert (load_settings().db_pool_min, load_settings().db_pool_max) == (1, 10)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://tw:hunter2@db/t", "TAGWIRE_DATABASE_URL: must look like sqlite:///path/to/"),
        ("postgresql://", "TAGWIRE_DATABASE_URL: must name a database: postgresql://USER@HOST"),
        ("postgresql://tw:hunter2@[::1/t", "TAGWIRE_DATABASE_URL: is not a PostgreSQL URL that"),
        ("sqlite:///", "TAGWIRE_DATABASE_URL: must look like sqlite:///"),
    ],
)
def test_a_bad_database_url_names_the_setting_and_never_echoes_a_password(url, message):
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        load_settings({"TAGWIRE_DATABASE_URL": url})
    assert "hunter2" not in str(info.value)


def test_a_pool_minimum_above_its_maximum_is_refused():
    with pytest.raises(SettingsError, match=r"TAGWIRE_DB_POOL_MIN \(12\) is larger than "
                       r"TAGWIRE_DB_POOL_MAX \(10\)"):  # fmt: skip
        load_settings({"TAGWIRE_DB_POOL_MIN": "12"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TAGWIRE_PORT", "http", "TAGWIRE_PORT: must be a whole number from 0 to 65535"),
        ("TAGWIRE_PORT", "70000", "TAGWIRE_PORT: must be a whole number"),
        ("TAGWIRE_TRUSTED_PROXIES", "10.0.0.0/8,proxy", "'proxy' is not an IP address"),
        (
            "TAGWIRE_COOKIE_DOMAIN",
            "client com",
            "TAGWIRE_COOKIE_DOMAIN: 'client com' is not a domain",
        ),
        ("TAGWIRE_LOG_LEVEL", "loud", "TAGWIRE_LOG_LEVEL: must be one of"),
        ("TAGWIRE_SENDER", "maybe", "TAGWIRE_SENDER: must be on or off"),
        ("TAGWIRE_DB_POOL_MIN", "0", "TAGWIRE_DB_POOL_MIN: must be a whole number from 1 to 100"),
        ("TAGWIRE_DB_POOL_MAX", "many", "TAGWIRE_DB_POOL_MAX: must be a whole number from 1"),
        ("TAGWIRE_SEND_TIMEOUT", "0", "from 0.1 to 300"),
        ("TAGWIRE_META_BASE_URL", "graph.facebook.com", "absolute http(s) URL"),
        (
            "TAGWIRE_FIRE_ONCE_TTL_HOURS",
            "24",
            "TAGWIRE_FIRE_ONCE_TTL_HOURS: must be a whole number from 48",
        ),
        ("TAGWIRE_FIRE_ONCE_TTL_HOURS", "3 days", "must be a whole number from 48 to 8760"),
        ("TAGWIRE_SHUTDOWN_GRACE_S", "-1", "TAGWIRE_SHUTDOWN_GRACE_S: must be from 0.1 to 300"),
        ("TAGWIRE_BATCH_FLUSH_MS", "0", "TAGWIRE_BATCH_FLUSH_MS: must be a whole number from 1"),
        ("TAGWIRE_IDEMPOTENCY_TTL_HOURS", "0", "TAGWIRE_IDEMPOTENCY_TTL_HOURS: must be a whole"),
        ("TAGWIRE_BOT_FILTER", "sometimes", "TAGWIRE_BOT_FILTER: must be on or off"),
        ("TAGWIRE_MAX_HITS_PER_IP_MINUTE", "-5", "TAGWIRE_MAX_HITS_PER_IP_MINUTE: must be a whole"),
        ("TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE", "1.5", "TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE: must"),
        (
            "TAGWIRE_SPIKE_MULTIPLE",
            "1",
            "TAGWIRE_SPIKE_MULTIPLE: must be a number from 1.1 to 1000",
        ),
        ("TAGWIRE_SPIKE_MULTIPLE", "nan", "TAGWIRE_SPIKE_MULTIPLE: must be a number"),
        (
            "TAGWIRE_SPIKE_MIN_EVENTS",
            "0",
            "TAGWIRE_SPIKE_MIN_EVENTS: must be a whole number from 1",
        ),
        ("TAGWIRE_VALUE_MAX", "lots", "TAGWIRE_VALUE_MAX: must be a number from 0.01 to"),
        ("TAGWIRE_VALUE_POLICY", "drop", "TAGWIRE_VALUE_POLICY: must be block or flag"),
    ],
)
def test_bad_env_value_names_the_setting(name, value, message):
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        load_settings({name: value})
    assert repr(value) in str(info.value)


def test_settings_file_then_env_then_flags(tmp_path):
    file = tmp_path / "tagwire.toml"
    file.write_text(
        'port = 7000\nhost = "0.0.0.0"\nsender = false\ntrusted_proxies = ["10.1.0.0/16"]\n'
    )
    env = {"TAGWIRE_SETTINGS_FILE": str(file), "TAGWIRE_PORT": "7001"}
    settings = load_settings(env, overrides={"port": "7002"})
    assert settings.port == 7002
    assert settings.host == "0.0.0.0"
    assert settings.sender is False
    assert settings.trusted_proxies == (ipaddress.ip_network("10.1.0.0/16"),)
    assert load_settings(env).port == 7001


def test_bad_flag_is_named_as_a_flag():
    with pytest.raises(SettingsError, match="--port: must be a whole number"):
        load_settings({}, overrides={"port": "eighty"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = ", "not valid TOML"),
        ("colour = 'red'", "unknown setting 'colour'"),
        ("port = 'x'", "port: must be a whole number"),
        ("host = {a = 1}", "host: must be a string"),
    ],
)
def test_bad_settings_file(tmp_path, content, message):
    file = tmp_path / "tagwire.toml"
    file.write_text(content)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({"TAGWIRE_SETTINGS_FILE": str(file)})


def test_missing_settings_file():
    with pytest.raises(SettingsError, match="TAGWIRE_SETTINGS_FILE: cannot read"):
        load_settings({"TAGWIRE_SETTINGS_FILE": "/nonexistent/tagwire.toml"})


def test_every_setting_is_documented():
    doc = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    for spec in SPECS:
        assert f"`TAGWIRE_{spec.name.upper()}`" in doc, spec.name
