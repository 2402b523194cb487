from pathlib import Path

import pytest

from config.settings import load_settings
from demo.publish import DemoKeyError, demo_keys


def test_the_demo_makes_a_pair_once_and_keeps_it(tmp_path: Path):
    settings = demo_keys(load_settings({"TAGWIRE_DATA_DIR": str(tmp_path)}))
    private = settings.signing_key_file.read_bytes()
    assert settings.signing_key_file.stat().st_mode & 0o777 == 0o600
    again = demo_keys(load_settings({"TAGWIRE_DATA_DIR": str(tmp_path)}))
    assert again.signing_key_file.read_bytes() == private


def test_a_configured_pair_is_used_as_it_is(tmp_path: Path):
    env = {"TAGWIRE_DATA_DIR": str(tmp_path), "TAGWIRE_SIGNING_KEY_FILE": "/k/a.key",
           "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": "/k/a.pub"}  # fmt: skip
    settings = demo_keys(load_settings(env))
    assert (str(settings.signing_key_file), str(settings.signing_public_key_file)) == (
        "/k/a.key",
        "/k/a.pub",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("half", ["TAGWIRE_SIGNING_KEY_FILE", "TAGWIRE_SIGNING_PUBLIC_KEY_FILE"])
def test_half_a_pair_is_refused(tmp_path: Path, half: str):
    with pytest.raises(DemoKeyError, match="set both"):
        demo_keys(load_settings({"TAGWIRE_DATA_DIR": str(tmp_path), half: "/k/x"}))
