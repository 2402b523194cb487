"""`tagwire keys generate`: the Ed25519 key pair that signs container versions.

The private key stays with the control plane (mode 0600, optionally encrypted with a
passphrase read from an environment variable, never from the command line where `ps` and
shell history would show it); the public key goes to every node. An existing key file is
never overwritten: losing a signing key strands every node that trusts it. The key id goes
alone to stdout, so `KEY_ID=$(tagwire keys generate --out DIR)` works; the rest to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from config.schema import DocumentError, load_document
from config.settings import Settings
from config.signing import (
    SignatureError,
    SigningKeyError,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign,
    verify,
)
from tagwire.cli.common import CommandError, UsageError, out, subcommands

__all__ = ["PRIVATE_KEY_FILE", "PUBLIC_KEY_FILE", "add_keys_commands"]

PRIVATE_KEY_FILE = "tagwire-signing.key"
PUBLIC_KEY_FILE = "tagwire-signing.pub"


def _passphrase(name: str | None) -> bytes | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise UsageError(f"--passphrase-env {name}: the environment variable is not set")
    if not value:
        raise UsageError(f"--passphrase-env {name}: the environment variable is empty")
    return value.encode("utf-8")


def _exists(path: Path) -> CommandError:
    return CommandError(
        f"{path} already exists; tagwire never overwrites a key file (move it away or "
        "choose another --out)"
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode`, failing if it exists (even if it appeared just now)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, mode)  # the umask may have taken bits off
        file.write(data)


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    passphrase = _passphrase(args.passphrase_env)
    private_path = args.out / PRIVATE_KEY_FILE
    public_path = args.out / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise _exists(path)
    try:
        args.out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {args.out}: {exc.strerror}") from None
    private_pem, public_pem = generate_keypair(passphrase)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except CommandError:
        private_path.unlink()  # half a key pair is worse than none
        raise
    protection = f"encrypted, passphrase in ${args.passphrase_env}" if passphrase else "unencrypted"
    sys.stderr.write(
        f"private key: {private_path} (mode 0600, {protection}); keep it on the control plane\n"
        f"public key:  {public_path}; give it to every node\n"
    )
    sys.stderr.flush()
    out(key_id(load_public_key(public_pem)))
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def _document(path: Path) -> dict[str, Any]:
    try:
        return load_document(path)
    except DocumentError as exc:
        raise CommandError(str(exc)) from None


def _sign(args: argparse.Namespace, settings: Settings) -> int:
    doc = _document(args.file)
    try:
        private_key = load_private_key(_read(args.key), _passphrase(args.passphrase_env))
        signature = sign(doc, private_key)
    except (SigningKeyError, SignatureError) as exc:
        raise CommandError(f"{args.key}: {exc}") from None
    out(signature)
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    doc = _document(args.file)
    try:
        public_key = load_public_key(_read(args.public_key))
        verify(doc, args.signature, public_key)
    except SigningKeyError as exc:
        raise CommandError(f"{args.public_key}: {exc}") from None
    except SignatureError as exc:
        raise CommandError(f"{args.file}: signature refused: {exc}") from None
    out(f"{args.file}: signature valid (key {key_id(public_key)})")
    return 0


def add_keys_commands(commands: Any) -> None:
    """Register `tagwire keys generate|sign|verify` on the top-level subparsers."""
    keys = commands.add_parser(
        "keys",
        help="manage the keys that sign container versions",
        description="Manage the Ed25519 keys that sign container versions. See docs/signing.md.",
    )
    actions = subcommands(keys, "keys_command")
    generate = actions.add_parser(
        "generate",
        help="make a new signing key pair",
        description=f"Write a new key pair to DIR/{PRIVATE_KEY_FILE} (mode 0600) and "
        f"DIR/{PUBLIC_KEY_FILE}, and print its key id. Existing files are never "
        "overwritten (exit 1).",
        # `--passphrase SECRET` must not pass as an abbreviation of --passphrase-env.
        allow_abbrev=False,
    )
    generate.add_argument(
        "--out", type=Path, required=True, metavar="DIR",
        help="folder for the two key files (created if missing)",
    )  # fmt: skip
    generate.add_argument(
        "--passphrase-env", metavar="NAME",
        help="encrypt the private key with the passphrase in this environment variable",
    )  # fmt: skip
    generate.set_defaults(run=_generate)
    signer = actions.add_parser(
        "sign",
        help="sign a container document file",
        description="Print the Ed25519 signature of a container document's canonical form "
        "(docs/signing.md).",
        allow_abbrev=False,
    )
    signer.add_argument("file", type=Path, metavar="FILE", help="container document (.json/.yaml)")
    signer.add_argument(
        "--key", type=Path, required=True, metavar="KEYFILE", help="the private key file"
    )
    signer.add_argument(
        "--passphrase-env", metavar="NAME",
        help="the environment variable holding the private key's passphrase",
    )  # fmt: skip
    signer.set_defaults(run=_sign)
    verifier = actions.add_parser(
        "verify",
        help="check a container document's signature",
        description="Check a signature over a container document's canonical form; exit 1 "
        "with the reason when it does not hold.",
        allow_abbrev=False,
    )
    verifier.add_argument("file", type=Path, metavar="FILE", help="container document")
    verifier.add_argument(
        "--signature",
        required=True,
        metavar="SIG",
        help="the signature (base64url); write --signature=SIG, since a signature can start "
        "with '-'",
    )
    verifier.add_argument(
        "--public-key", type=Path, required=True, metavar="PUBFILE", help="the public key file"
    )
    verifier.set_defaults(run=_verify)
