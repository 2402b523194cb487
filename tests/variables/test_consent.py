from variables.consent import missing_consent, storage_granted
from variables.hit import Hit


def make(consent, sec_gpc=False):
    wire = {"consent": consent} if consent is not None else {}
    return Hit("c", "lead", "e1234567", wire, 0, 0, "1.2.3.4", "ua", None, sec_gpc, "t", {}, [])


def test_granted_signals_pass():
    hit = make({"ad_storage": "granted", "analytics_storage": "granted"})
    assert missing_consent(hit, ["ad_storage", "analytics_storage"]) == []


def test_denied_and_absent_signals_are_missing():
    hit = make({"ad_storage": "denied"})
    assert missing_consent(hit, ["ad_storage", "ad_user_data"]) == ["ad_storage", "ad_user_data"]
    assert missing_consent(make(None), ["ad_storage"]) == ["ad_storage"]


def test_gpc_denies_ad_signals_even_when_granted():
    consent = {"ad_storage": "granted", "analytics_storage": "granted", "gpc": True}
    assert missing_consent(make(consent), ["ad_storage", "analytics_storage"]) == ["ad_storage"]
    header_only = make({"ad_storage": "granted"}, sec_gpc=True)
    assert missing_consent(header_only, ["ad_storage"]) == ["ad_storage"]


def test_storage_granted():
    assert storage_granted({"analytics_storage": "granted"})
    assert not storage_granted({"analytics_storage": "denied"})
    assert not storage_granted(None)
    assert not storage_granted({})
