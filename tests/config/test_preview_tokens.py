"""Preview tokens: made and read under one key; forged, expired and malformed ones are
refused with that reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.preview_tokens import PreviewTokens, TokenRejected

KEY = b"k" * 32


def test_a_token_reads_back_its_session_and_expiry():
    token = PreviewTokens(KEY).make("session-0123456789", 5_000)
    assert PreviewTokens(KEY).read(token, 4_999) == ("session-0123456789", 5_000)


@pytest.mark.parametrize(
    ("token", "now", "reason"),
    [
        (PreviewTokens(KEY).make("session-0123456789", 5_000), 5_000, "expired"),
        (PreviewTokens(b"x" * 32).make("session-0123456789", 5_000), 1, "forged"),
        (PreviewTokens(KEY).make("session-0123456789", 5_000).replace(".5000.", ".9000."), 1,
         "forged"),
        ("session-0123456789.5000", 1, "malformed"),
        ("", 1, "malformed"),
    ],
)
def test_a_bad_token_is_refused_with_its_reason(token, now, reason):
    with pytest.raises(TokenRejected) as refused:
        PreviewTokens(KEY).read(token, now)
    assert refused.value.reason == reason


@given(st.text(max_size=200))
def test_any_other_text_is_refused_with_a_reason_never_a_crash(text):
    with pytest.raises(TokenRejected) as refused:
        PreviewTokens(KEY).read(text, 0)
    assert refused.value.reason in ("malformed", "forged")


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        PreviewTokens(b"short")
