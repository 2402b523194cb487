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


def test_database_url_wins_over_data_dir():
    settings = load_settings({"TAGWIRE_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert settings.sqlite_path == Path("/tmp/x.db")


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
        ("TAGWIRE_DATABASE_URL", "postgresql://x/y", "PostgreSQL storage is not available"),
        ("TAGWIRE_DATABASE_URL", "mysql://x", "sqlite:///"),
        ("TAGWIRE_SEND_TIMEOUT", "0", "from 0.1 to 300"),
        ("TAGWIRE_META_BASE_URL", "graph.facebook.com", "absolute http(s) URL"),
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
