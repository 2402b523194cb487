"""The request-head limits are settings with defaults and bounds."""

import pytest

from config.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings({})
    assert (settings.max_url_bytes, settings.max_headers, settings.max_header_bytes) == (
        8192,
        100,
        32768,
    )


def test_set_from_the_environment() -> None:
    env = {
        "TAGWIRE_MAX_URL_BYTES": "16384",
        "TAGWIRE_MAX_HEADERS": "50",
        "TAGWIRE_MAX_HEADER_BYTES": "65536",
    }
    settings = load_settings(env)
    assert (settings.max_url_bytes, settings.max_headers, settings.max_header_bytes) == (
        16384,
        50,
        65536,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TAGWIRE_MAX_URL_BYTES", "1000", "must be a whole number from 1024 to 1048576"),
        ("TAGWIRE_MAX_URL_BYTES", "8k", "must be a whole number from 1024 to 1048576"),
        ("TAGWIRE_MAX_HEADERS", "15", "must be a whole number from 16 to 10000"),
        ("TAGWIRE_MAX_HEADER_BYTES", "2000000", "must be a whole number from 4096 to 1048576"),
    ],
)
def test_out_of_bounds_values_stop_start_up(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}: {message}"):
        load_settings({name: value})
