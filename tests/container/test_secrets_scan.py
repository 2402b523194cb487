"""Platform tokens stored with `tagwire secrets set` reach the platforms and nowhere else.

A real node serves a published version whose five platform tags name their tokens; the
tokens live only encrypted in the store (no TAGWIRE_SECRET_* variable is set). After a
lead reaches all five fakes, every place an operator can read is scanned for the token
values: the node's debug log, the CLI's output and log for export, versions, audit,
history and secrets list, and every byte of the database files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from config.secret_box import generate_key
from config.signing import generate_keypair
from demo import demo_secrets
from fake_platforms import serve
from tests.container.test_platforms_end_to_end import PLATFORMS, container_document, lead
from tests.helpers import LOOPBACK_EGRESS, free_port, tagwire_cli, wait_until

pytestmark = pytest.mark.e2e


def output(env: dict[str, str], *argv: str, stdin: str | None = None) -> str:
    result = tagwire_cli(env, *argv, stdin=stdin)
    return result.stdout + result.stderr  # the CLI's log lines go to stderr


def test_stored_tokens_are_used_but_never_shown(tmp_path: Path) -> None:
    private_pem, public_pem = generate_keypair()
    (tmp_path / "signing.key").write_bytes(private_pem)
    (tmp_path / "signing.pub").write_bytes(public_pem)
    data = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_SECRET_")}
    env |= {
        "TAGWIRE_DATA_DIR": str(data),
        "TAGWIRE_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
        "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": str(tmp_path / "signing.pub"),
        "TAGWIRE_SECRETS_KEY": generate_key(),
        "TAGWIRE_LOG_LEVEL": "debug",
    }
    tokens = demo_secrets()
    (tmp_path / "shop.json").write_text(json.dumps(container_document()))
    seen = output(env, "import", str(tmp_path / "shop.json"))
    for name, value in tokens.items():
        seen += output(env, "secrets", "set", "shop", name, stdin=value)
    seen += output(env, "version", "create", "shop", "--note", "five platforms")
    seen += output(env, "publish", "shop", "1")

    with serve() as fakes:
        env |= {f"TAGWIRE_{name.upper()}": url for name, url in fakes.base_urls.items()}
        env |= LOOPBACK_EGRESS  # the fakes run on 127.0.0.1
        port = free_port()
        log = tmp_path / "node.log"
        with log.open("wb") as sink:
            node = subprocess.Popen([sys.executable, "-m", "tagwire", "serve", "--host",
                                     "127.0.0.1", "--port", str(port)], env=env,
                                    stdout=sink, stderr=sink)  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until(lambda: _ready(base), timeout=20, what="the node")
                hit = orjson.dumps(lead("lead-scan-0001"))
                answer = httpx.post(f"{base}/collect?id=shop", content=hit,
                                    headers={"content-type": "text/plain"})  # fmt: skip
                assert answer.status_code == 200, answer.text

                def everywhere() -> bool:
                    events = httpx.get(f"{fakes.url}/_fake/events").json()["events"]
                    return {e["platform"] for e in events} >= set(PLATFORMS)

                wait_until(everywhere, timeout=20, what="the lead at all five fakes")
                requests = httpx.get(f"{fakes.url}/_fake/requests").json()["requests"]
                assert [r for r in requests if r["status"] >= 300] == []
            finally:
                node.send_signal(signal.SIGTERM)
                node.wait(20)

    for command in (["export", "shop"], ["export", "shop", "1", "--format", "yaml"],
                    ["versions", "shop", "--json"], ["audit", "--json"],
                    ["history", "--format", "json"], ["secrets", "list", "--json"]):  # fmt: skip
        seen += output(env, *command)
    seen += log.read_text()
    stored = b"".join(path.read_bytes() for path in data.glob("tagwire.db*") if path.is_file())
    assert "secret.set" in seen  # the scan reads real output: the audit listing is there
    for value in tokens.values():
        assert value not in seen
        assert value.encode() not in stored


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
