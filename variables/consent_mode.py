"""Google Consent Mode v2 URL parameters (`gcs`, `gcd`) and Global Privacy Control.

Google tags put the consent state on every hit they send:

- `gcs=G1xy` (only when consent mode is active): x = ad_storage, y = analytics_storage;
  `1` granted, `0` denied, `-` not set (`G1--`).
- `gcd` (always sent): `1<d>` then one letter and one digit per signal, in the order
  ad_storage, analytics_storage, ad_user_data, ad_personalization, sometimes followed by
  more letter/digit pairs. The digits and any trailing pairs are undocumented and ignored.
  Each of the four letters says what the default was and what the latest update said:

  | default \\ update | none | denied | granted |
  |---|---|---|---|
  | not set | `l` | `m` | `n` |
  | denied  | `p` | `q` | `r` |
  | granted | `t` | `u` | `v` |

  Google does not document this format; the matrix is the community decode (Markus
  Baersch in Simo Ahava's "Consent Mode V2 for Google Tags"). Any other letter in the four
  signal positions (including the upper-case letters seen on some hits) is refused rather
  than guessed: `ConsentModeError`.

Parsed results are dicts of the four signals with `"granted"` or `"denied"`; a signal that
is not set is absent. Every malformed value raises `ConsentModeError` (a `ValueError`) and
never another exception; its `param` names the parameter to blame.

`hit_consent` turns them into the `consent` section of a tagwire hit (the gtag intake,
container/gtag/), so the server re-enforces them like any other hit's consent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "GCD_LETTERS",
    "SIGNALS",
    "ConsentModeError",
    "GcdSignal",
    "gpc_from_header",
    "hit_consent",
    "parse_gcd",
    "parse_gcd_signals",
    "parse_gcs",
    "parse_google_consent",
]

SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
MAX_PARAM_LENGTH = 64

# letter -> (default, update); None = not set / no update
GCD_LETTERS: dict[str, tuple[str | None, str | None]] = {
    "l": (None, None),
    "m": (None, "denied"),
    "n": (None, "granted"),
    "p": ("denied", None),
    "q": ("denied", "denied"),
    "r": ("denied", "granted"),
    "t": ("granted", None),
    "u": ("granted", "denied"),
    "v": ("granted", "granted"),
}

_GCS = re.compile(r"G1([01-])([01-])")
_GCD = re.compile(r"1[0-9](?:[A-Za-z][0-9]){4,}")
_GCS_VALUES = {"1": "granted", "0": "denied", "-": None}


class ConsentModeError(ValueError):
    """A `gcs`, `gcd` or `npa` value that cannot be read; `param` is which."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class GcdSignal:
    """One signal of a `gcd` value: its letter, default and latest update."""

    letter: str
    default: str | None
    update: str | None

    @property
    def effective(self) -> str | None:
        """The state now: the update when there was one, else the default."""
        return self.update if self.update is not None else self.default

    @property
    def status(self) -> str:
        """`granted`/`denied` (set by an update), `default-granted`/`default-denied`, or
        `not-set`."""
        if self.update is not None:
            return self.update
        if self.default is not None:
            return f"default-{self.default}"
        return "not-set"


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ConsentModeError(f"{name} must be a str, not {type(value).__name__}", name)
    if len(value) > MAX_PARAM_LENGTH:
        raise ConsentModeError(
            f"{name} too long ({len(value)} > {MAX_PARAM_LENGTH} characters)", name
        )
    return value


def parse_gcs(value: str) -> dict[str, str]:
    """`G1xy` -> {"ad_storage": ..., "analytics_storage": ...}; `-` leaves a signal out."""
    match = _GCS.fullmatch(_text(value, "gcs"))
    if match is None:
        raise ConsentModeError(f"malformed gcs {value!r}: expected G1 and two of 0, 1, -", "gcs")
    out = {}
    for signal, char in zip(SIGNALS[:2], match.groups(), strict=True):
        state = _GCS_VALUES[char]
        if state is not None:
            out[signal] = state
    return out


def parse_gcd_signals(value: str) -> dict[str, GcdSignal]:
    """Each of the four signals with its default and update, as the `gcd` letters say."""
    text = _text(value, "gcd")
    if _GCD.fullmatch(text) is None:
        raise ConsentModeError(
            f"malformed gcd {value!r}: expected 1, a digit, then letter+digit pairs (at least 4)",
            "gcd",
        )
    out = {}
    for index, signal in enumerate(SIGNALS):
        letter = text[2 + 2 * index]
        if letter not in GCD_LETTERS:
            raise ConsentModeError(f"unknown gcd letter {letter!r} for {signal}", "gcd")
        out[signal] = GcdSignal(letter, *GCD_LETTERS[letter])
    return out


def parse_gcd(value: str) -> dict[str, str]:
    """The four signals' current states (update, else default); signals not set are absent."""
    out = {}
    for signal, state in parse_gcd_signals(value).items():
        if state.effective is not None:
            out[signal] = state.effective
    return out


def parse_google_consent(gcs: str | None = None, gcd: str | None = None) -> dict[str, str]:
    """Both parameters combined. Where they disagree on a signal, `denied` wins."""
    out = parse_gcd(gcd) if gcd is not None else {}
    if gcs is not None:
        for signal, state in parse_gcs(gcs).items():
            if out.get(signal) != "denied":
                out[signal] = state
    return out


def hit_consent(
    gcs: str | None = None, gcd: str | None = None, npa: str | None = None
) -> dict[str, str]:
    """A hit's `consent` section from a Google tag's parameters: the signals
    `parse_google_consent` reads, `ad_personalization` denied by `npa=1` (the tag's
    non-personalised ads flag), and `source: "gcm"`. Empty when no parameter sets a
    signal, so a strict container fires nothing for the hit, as for any hit without one."""
    signals = parse_google_consent(gcs, gcd)
    if npa is not None:
        if npa not in ("0", "1"):
            raise ConsentModeError(
                f"malformed npa {npa[:MAX_PARAM_LENGTH]!r}: expected 0 or 1", "npa"
            )
        if npa == "1":
            signals["ad_personalization"] = "denied"
    if not signals:
        return {}
    return {**signals, "source": "gcm"}


def gpc_from_header(value: str | bytes | None) -> bool:
    """True only for `Sec-GPC: 1` (surrounding spaces or tabs allowed); anything else False."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return isinstance(value, str) and value.strip(" \t") == "1"
