import dataclasses

import pytest

from fake_platforms import FakeAccounts
from tests.fake_platforms.payloads import NOW_MS


def test_defaults_are_the_documented_demo_accounts():
    accounts = FakeAccounts()
    assert accounts.meta_pixels == {"1234567890123456"}
    assert accounts.meta_access_token == "meta-test-token"
    assert accounts.meta_versions == ("v24.0", "v25.0")
    assert accounts.tiktok_pixels == {"CDEMO1234567890ABCDE"}
    assert accounts.tiktok_access_token == "tiktok-test-token"
    assert accounts.linkedin_access_token == "linkedin-test-token"
    assert accounts.linkedin_rules == {"12345678", "23456789"}
    assert accounts.google_ads_customers == {"1234567890"}
    assert accounts.google_ads_developer_token == "ads-dev-token"
    assert accounts.google_ads_access_token == "ads-oauth-token"
    assert accounts.google_ads_conversion_actions == {"987654321", "876543210"}
    assert accounts.google_ads_versions == ("v25", "v26")
    assert dict(accounts.ga4_streams) == {"G-DEMO12345": "ga4-test-secret"}
    assert accounts.linkedin_partners == {"1234567"}
    assert dict(accounts.google_ads_tags) == {"AW-123456789": {"DemoLeadLabel"}}


def test_linkedin_versions_are_the_twelve_months_ending_with_the_clock():
    versions = FakeAccounts().linkedin_versions(NOW_MS)
    assert versions[0] == "202502"
    assert versions[-1] == "202601"
    assert len(versions) == 12


def test_linkedin_versions_cross_years_and_honour_the_window():
    assert FakeAccounts(linkedin_active_months=3).linkedin_versions(NOW_MS) == (
        "202511",
        "202512",
        "202601",
    )


def test_plain_collections_are_frozen():
    streams = {"G-1": "s"}
    accounts = FakeAccounts(meta_pixels=["1", "2"], meta_versions=["v1.0"], ga4_streams=streams)
    streams["G-2"] = "t"
    assert accounts.meta_pixels == frozenset({"1", "2"})
    assert accounts.meta_versions == ("v1.0",)
    assert dict(accounts.ga4_streams) == {"G-1": "s"}
    with pytest.raises(TypeError):
        accounts.ga4_streams["G-3"] = "u"
    with pytest.raises(dataclasses.FrozenInstanceError):
        accounts.meta_access_token = "x"


def test_google_ads_tags_are_frozen_label_sets():
    tags = {"AW-1": ["A", "B"]}
    accounts = FakeAccounts(google_ads_tags=tags, linkedin_partners=["7"])
    tags["AW-2"] = ["C"]
    assert dict(accounts.google_ads_tags) == {"AW-1": frozenset({"A", "B"})}
    assert accounts.linkedin_partners == frozenset({"7"})
    with pytest.raises(TypeError):
        accounts.google_ads_tags["AW-3"] = frozenset()
    with pytest.raises(ValueError, match="collection of labels"):
        FakeAccounts(google_ads_tags={"AW-1": "Label"})


@pytest.mark.parametrize(
    "changes", [{"linkedin_active_months": 0}, {"meta_versions": ()}, {"google_ads_versions": []}]
)
def test_unusable_accounts_are_refused(changes):
    with pytest.raises(ValueError, match="at least"):
        FakeAccounts(**changes)
