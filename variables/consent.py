"""The server-side consent decision: may this tag fire for this hit?

The server re-enforces consent rather than trusting that the loader only sent allowed
hits. A tag declares what it needs (Consent Mode signals, TCF purposes, a TCF vendor id);
the decision says yes or no with the reason, which is logged and counted per tag.

- `strict` policy (default): a hit with no consent signal at all fires nothing, and a
  Consent Mode signal that is absent counts as denied.
- `basic` policy: an absent signal counts as granted; an explicit `denied` still denies.
- Global Privacy Control (`consent.gpc` or `Sec-GPC: 1`) is an opt-out of sale/sharing:
  `ad_user_data` and `ad_personalization` are denied whatever else the hit says.
- TCF purposes and vendors apply when the hit says `gdpr_applies: true`; then a TC string
  is required and must grant them.

The rules for the cookies an answer sets live here too, so every endpoint asks the same
question: the visitor id needs `analytics_storage` (`storage_granted`), the cookies
templates ask for are ad cookies and need `ad_storage` without GPC (`ad_cookies_allowed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from variables.hit import CONSENT_SIGNALS, Hit
from variables.tcf import TCData, TCStringError, decode_tc_string

__all__ = [
    "ConsentRequirement",
    "ConsentState",
    "Decision",
    "ad_cookies_allowed",
    "decide",
    "gpc_opts_out",
    "storage_granted",
]

GPC_DENIES = ("ad_user_data", "ad_personalization")


@dataclass(frozen=True, slots=True)
class ConsentRequirement:
    gcm: tuple[str, ...] = ()
    purposes: tuple[int, ...] = ()
    vendor_id: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(slots=True)
class ConsentState:
    """One hit's consent, with the TC string decoded at most once (on first need)."""

    hit: Hit
    _tc: TCData | None = field(default=None, init=False)
    _tc_error: str | None = field(default=None, init=False)
    _decoded: bool = field(default=False, init=False)

    @property
    def gpc(self) -> bool:
        return gpc_opts_out(self.hit.section("consent"), self.hit.sec_gpc)

    def has_signal(self) -> bool:
        consent = self.hit.section("consent")
        return self.gpc or "tcf" in consent or any(s in consent for s in CONSENT_SIGNALS)

    def tc(self) -> tuple[TCData | None, str | None]:
        if not self._decoded:
            self._decoded = True
            text = self.hit.section("consent").get("tcf")
            if text:
                try:
                    self._tc = decode_tc_string(text)
                except TCStringError as exc:
                    self._tc_error = str(exc)
        return self._tc, self._tc_error


def decide(state: ConsentState, need: ConsentRequirement, policy: str) -> Decision:
    consent = state.hit.section("consent")
    if policy == "strict" and not state.has_signal():
        return Decision(False, "no consent signal on the hit (strict policy)")
    gpc = state.gpc
    for signal in need.gcm:
        if gpc and signal in GPC_DENIES:
            return Decision(False, f"Global Privacy Control opts out of {signal}")
        value = consent.get(signal)
        if value == "denied":
            return Decision(False, f"{signal} denied")
        if value != "granted" and policy == "strict":
            return Decision(False, f"{signal} not granted (strict policy)")
    if (need.purposes or need.vendor_id is not None) and consent.get("gdpr_applies") is True:
        tc, error = state.tc()
        if error is not None:
            return Decision(False, f"TC string invalid: {error}")
        if tc is None:
            return Decision(False, "GDPR applies but the hit has no TC string")
        allowed, reason = tc.allows(need.purposes, need.vendor_id)
        if not allowed:
            return Decision(False, reason)
    return Decision(True, "granted")


def gpc_opts_out(wire_consent: Mapping[str, Any] | None, sec_gpc: bool) -> bool:
    """Global Privacy Control, from the hit (`consent.gpc`) or the browser (`Sec-GPC: 1`):
    an opt-out of sale and sharing, whichever of the two says it."""
    return sec_gpc or (wire_consent is not None and wire_consent.get("gpc") is True)


def storage_granted(wire_consent: Mapping[str, Any] | None) -> bool:
    """Whether the first-party visitor id (the `tw_id` cookie) may be stored: an analytics
    identifier, so `analytics_storage` decides; GPC does not stop it."""
    return wire_consent is not None and wire_consent.get("analytics_storage") == "granted"


def ad_cookies_allowed(wire_consent: Mapping[str, Any] | None, sec_gpc: bool) -> bool:
    """Whether the cookies templates ask for (`_fbp`, `_gcl_aw`, ...) may be set for a hit:
    they are ad cookies, so only with `ad_storage` granted and no GPC opt-out."""
    return (
        wire_consent is not None
        and wire_consent.get("ad_storage") == "granted"
        and not gpc_opts_out(wire_consent, sec_gpc)
    )
