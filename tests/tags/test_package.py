"""Template packages: metadata checks, the consent floor, and every shipped template."""

from __future__ import annotations

from typing import Any

import pytest

from tags.package import SHIPPED, package_from_metadata, shipped_template
from tags.testing import run_tests


def test_consent_floor_is_read_and_deduplicated() -> None:
    meta = {"name": "t", "consent": {"gcm": ["ad_storage", "ad_user_data", "ad_storage"]}}
    package, problems = package_from_metadata(meta, "")
    assert problems == []
    assert package is not None
    assert package.consent == ("ad_storage", "ad_user_data")


def test_no_consent_floor_by_default() -> None:
    package, _ = package_from_metadata({"name": "t"}, "")
    assert package is not None
    assert package.consent == ()


@pytest.mark.parametrize(
    ("consent", "problem"),
    [
        ("ad_storage", ("consent", 'must be an object {"gcm": [signals]}')),
        ({"purposes": [1]}, ("consent", 'must be an object {"gcm": [signals]}')),
        ({"gcm": "ad_storage"}, ("consent.gcm", "must be a list of ad_storage, "
                                 "analytics_storage, ad_user_data, ad_personalization")),
        ({"gcm": ["marketing"]}, ("consent.gcm", "must be a list of ad_storage, "
                                  "analytics_storage, ad_user_data, ad_personalization")),
    ],
)  # fmt: skip
def test_bad_consent_floor_is_named(consent: Any, problem: tuple[str, str]) -> None:
    package, problems = package_from_metadata({"name": "t", "consent": consent}, "")
    assert package is None
    assert problems == [problem]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_template_passes_its_own_tests(name: str) -> None:
    package = shipped_template(name)
    assert package.name == name
    assert package.tests, f"{name} ships without tests"
    failures = [(o.name, o.diff) for o in run_tests(package) if not o.passed]
    assert failures == []


@pytest.mark.parametrize("name", [n for n in SHIPPED if n != "webhook"])
def test_ad_platform_templates_declare_a_consent_floor(name: str) -> None:
    expected = ("analytics_storage",) if name == "ga4" else ("ad_storage", "ad_user_data")
    assert shipped_template(name).consent == expected
