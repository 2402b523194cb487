from datetime import UTC, datetime

import pytest

from tests.helpers import hit_record, make_hit
from variables.consent import (
    ConsentRequirement,
    ConsentState,
    ad_cookies_allowed,
    decide,
    gpc_opts_out,
    storage_granted,
)
from variables.tcf import TCData, encode_tc_string

GRANTED = {"ad_storage": "granted", "analytics_storage": "granted", "ad_user_data": "granted",
           "ad_personalization": "granted"}  # fmt: skip
NOW = datetime(2026, 11, 1, tzinfo=UTC)
TC = encode_tc_string(TCData(created=NOW, last_updated=NOW, purpose_consents=frozenset({1, 3, 4}),
                             vendor_consents=frozenset({755})))  # fmt: skip


def decision(consent, need, policy="strict", sec_gpc=False):
    wire = make_hit(consent=consent) if consent is not None else make_hit()
    if consent is None:
        del wire["consent"]
    return decide(ConsentState(hit_record(wire, sec_gpc=sec_gpc)), need, policy)


GCM_ADS = ConsentRequirement(gcm=("ad_storage", "ad_user_data"))


@pytest.mark.parametrize(
    ("consent", "need", "policy", "allowed", "reason"),
    [
        (GRANTED, GCM_ADS, "strict", True, "granted"),
        (None, ConsentRequirement(), "strict", False, "no consent signal"),
        (None, ConsentRequirement(), "basic", True, "granted"),
        ({**GRANTED, "ad_storage": "denied"}, GCM_ADS, "strict", False, "ad_storage denied"),
        ({**GRANTED, "ad_storage": "denied"}, GCM_ADS, "basic", False, "ad_storage denied"),
        ({"analytics_storage": "granted"}, GCM_ADS, "strict", False, "not granted"),
        ({"analytics_storage": "granted"}, GCM_ADS, "basic", True, "granted"),
        ({**GRANTED, "gpc": True}, GCM_ADS, "strict", False, "Global Privacy Control"),
        ({**GRANTED, "gpc": True}, ConsentRequirement(gcm=("ad_storage",)), "strict", True,
         "granted"),
        ({**GRANTED, "gdpr_applies": True, "tcf": TC},
         ConsentRequirement(purposes=(1, 4), vendor_id=755), "strict", True, "granted"),
        ({**GRANTED, "gdpr_applies": True, "tcf": TC},
         ConsentRequirement(purposes=(1, 7)), "strict", False, "TCF purpose 7 not consented"),
        ({**GRANTED, "gdpr_applies": True, "tcf": TC},
         ConsentRequirement(purposes=(1,), vendor_id=32), "strict", False,
         "vendor 32 has no consent"),
        ({**GRANTED, "gdpr_applies": True}, ConsentRequirement(purposes=(1,)), "strict", False,
         "no TC string"),
        ({**GRANTED, "gdpr_applies": True, "tcf": "garbage"}, ConsentRequirement(purposes=(1,)),
         "strict", False, "TC string invalid"),
        ({**GRANTED, "gdpr_applies": False}, ConsentRequirement(purposes=(1,)), "strict", True,
         "granted"),
    ],
)  # fmt: skip
def test_decisions(consent, need, policy, allowed, reason):
    result = decision(consent, need, policy)
    assert result.allowed is allowed
    assert reason in result.reason


def test_sec_gpc_header_counts_as_gpc():
    assert not decision(GRANTED, GCM_ADS, sec_gpc=True).allowed


def test_tc_string_is_decoded_once_per_hit():
    state = ConsentState(hit_record(make_hit(consent={**GRANTED, "gdpr_applies": True, "tcf": TC})))
    need = ConsentRequirement(purposes=(1,))
    assert decide(state, need, "strict").allowed
    first = state.tc()[0]
    assert decide(state, need, "strict").allowed
    assert state.tc()[0] is first


def test_storage_granted():
    assert storage_granted({"analytics_storage": "granted"})
    assert not storage_granted({"analytics_storage": "denied"})
    assert not storage_granted(None)
    assert not storage_granted({})


def test_gpc_opts_out_from_the_hit_or_the_header():
    assert gpc_opts_out({"gpc": True}, sec_gpc=False)
    assert gpc_opts_out({}, sec_gpc=True)
    assert gpc_opts_out(None, sec_gpc=True)
    assert not gpc_opts_out({"gpc": False}, sec_gpc=False)
    assert not gpc_opts_out(None, sec_gpc=False)


def test_ad_cookies_need_ad_storage_and_no_gpc():
    assert ad_cookies_allowed({"ad_storage": "granted"}, sec_gpc=False)
    assert not ad_cookies_allowed({"ad_storage": "denied"}, sec_gpc=False)
    assert not ad_cookies_allowed({"analytics_storage": "granted"}, sec_gpc=False)
    assert not ad_cookies_allowed({"ad_storage": "granted", "gpc": True}, sec_gpc=False)
    assert not ad_cookies_allowed({"ad_storage": "granted"}, sec_gpc=True)
    assert not ad_cookies_allowed(None, sec_gpc=False)
    assert not ad_cookies_allowed({}, sec_gpc=False)


def test_gpc_stops_ad_cookies_but_not_the_visitor_id():
    consent = {**GRANTED, "gpc": True}
    assert storage_granted(consent)
    assert not ad_cookies_allowed(consent, sec_gpc=False)
