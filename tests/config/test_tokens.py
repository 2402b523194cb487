"""Fire API tokens: recognisable, random, stored only as a hash."""

from __future__ import annotations

import hashlib

from config.tokens import TOKEN_PREFIX, hash_token, is_token_shaped, new_token


def test_tokens_are_prefixed_random_and_long() -> None:
    made = {new_token() for _ in range(100)}
    assert len(made) == 100
    for token in made:
        assert token.startswith(TOKEN_PREFIX)
        assert len(token) == len(TOKEN_PREFIX) + 43  # 32 random bytes, base64url
        assert is_token_shaped(token)


def test_the_hash_is_sha256_of_the_token() -> None:
    token = new_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in hash_token(token)


def test_other_strings_are_not_tokens() -> None:
    token = new_token()
    others = ("", token[:-1], token + "x", "tw-" + token[3:], "xx_" + token[3:],
              token[:10] + " " + token[11:])  # fmt: skip
    assert not any(is_token_shaped(text) for text in others)
