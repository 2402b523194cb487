"""What the SQLite file holds of a secret: its ciphertext in the secrets table, never
its value, and nothing of either in the audit rows."""

import base64

import pytest

from config.sqlite_store import SQLiteStore
from tests.config.store.support import query, secret

pytestmark = pytest.mark.anyio


async def test_the_audit_never_holds_a_secrets_value_or_ciphertext(tmp_path):
    path = tmp_path / "tagwire.db"
    value = b"PLAINTEXT-VALUE-7f3a9c"
    ciphertext = bytes(byte ^ 0x5A for byte in value) + b"\xa5" * 16
    store = SQLiteStore(path)
    await store.open()
    await store.put_secret(secret("api_key", ciphertext=ciphertext))
    await store.delete_secret("demo", "api_key", "bo", 6000)
    await store.put_secret(secret("api_key", ciphertext=ciphertext, by="cy"))
    await store.close()

    stored = b"".join(file.read_bytes() for file in tmp_path.iterdir() if file.is_file())
    assert value not in stored
    assert ciphertext in stored
    audit = query(path, "SELECT actor, action, container_id, detail FROM audit")
    assert [row[1] for row in audit] == ["secret.set", "secret.delete", "secret.set"]
    flat = repr(audit).encode()
    for encoded in (ciphertext, ciphertext.hex().encode(), base64.b64encode(ciphertext),
                    base64.urlsafe_b64encode(ciphertext).rstrip(b"=")):  # fmt: skip
        assert encoded not in flat
    assert query(path, "SELECT COUNT(*) FROM audit WHERE instr(CAST(detail AS BLOB), ?) > 0",
                 (ciphertext,)) == [(0,)]  # fmt: skip
