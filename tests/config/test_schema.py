"""The container document schema: one failing case per rule, document templates and the
tag parameters they define, loading, defaults, and properties that hold for any input."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from config.schema import (
    DocumentError,
    Issue,
    apply_defaults,
    load_document,
    parse_document,
    template_package,
    validate_document,
)
from tags.package import MAX_SOURCE_BYTES, SHIPPED, shipped_template
from tags.testing import run_tests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "container.json"
DELETE = object()
ID_RULE = "must be 1-64 characters (a-z, 0-9, '_', '-') starting with a letter or digit"
HTTPS_ONLY = "must use https; plain http is only allowed for localhost, 127.x.x.x and [::1]"


def example() -> dict[str, Any]:
    return orjson.loads(EXAMPLE.read_bytes())


def _replace(doc: Any, keys: tuple[str | int, ...], value: object) -> None:
    """Replace the value at `keys` inside `doc` (or delete it, for DELETE)."""
    target: Any = doc
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value


def mutated(keys: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """The example with the value at `keys` replaced (or deleted, for DELETE)."""
    doc = example()
    _replace(doc, keys, value)
    return doc


def minimal() -> dict[str, Any]:
    return {
        "container": {"id": "shop", "name": "Shop"},
        "triggers": [{"id": "all", "name": "All events", "events": ["*"]}],
        "tags": [
            {
                "id": "hook",
                "name": "Hook",
                "template": "webhook",
                "params": {"url": "https://hooks.example.com/in"},
                "firing_triggers": ["all"],
            }
        ],
    }


def crm_template() -> dict[str, Any]:
    """A valid document template that uses every metadata field."""
    return {
        "id": "crm_hook",
        "version": "1.2.0",
        "description": "Leads to the CRM.",
        "lua": "send_http{url = params.url, body = {id = event.get('event_id')}}",
        "params": {
            "url": {"type": "string", "format": "url", "required": True},
            "token": {"type": "secret"},
        },
        "permissions": {
            "read_event_data": ["event_id"],
            "send_http": [{"url": "param:url", "methods": ["POST"]}],
            "secrets": ["token"],
        },
        "limits": {"deadline_ms": 20},
        "tests": [],
    }


def with_templates(*templates: dict[str, Any]) -> dict[str, Any]:
    """The minimal document with these document templates (no tag uses them)."""
    return {**minimal(), "templates": list(templates)}


def test_example_is_valid():
    assert validate_document(example()) == []
    assert validate_document(minimal()) == []
    assert validate_document(with_templates(crm_template())) == []


def test_example_uses_a_shipped_and_a_document_template():
    doc = example()
    assert {tag["template"] for tag in doc["tags"]} == {"webhook", "order_feed"}
    assert [t["id"] for t in doc["templates"]] == ["order_feed"]


def test_the_example_document_template_passes_its_own_tests():
    package = template_package(example(), "order_feed")
    outcomes = run_tests(package)
    assert outcomes
    assert all(o.passed for o in outcomes), [o.diff for o in outcomes]


# Each case changes one value of the example and must produce exactly one issue.
RULES = [
    # top level
    (("extra",), 1, "extra", "unknown field 'extra'"),
    (("container",), DELETE, "container", "required field is missing"),
    (("triggers",), DELETE, "triggers", "required field is missing"),
    (("tags",), DELETE, "tags", "required field is missing"),
    (("tags",), {}, "tags", "must be a list"),
    (("triggers",), "purchases", "triggers", "must be a list"),
    (("variables",), {}, "variables", "must be a list"),
    (("templates",), {}, "templates", "must be a list"),
    (("variables",), [{"id": "plan", "name": "Plan", "type": "magic"}], "variables[0].type",
     "must be one of constant, event_field, cookie, query_param, lookup, regex_table"),
    # container
    (("container",), [], "container", "must be an object"),
    (("container", "colour"), "red", "container.colour", "unknown field 'colour'"),
    (("container", "id"), DELETE, "container.id", "required field is missing"),
    (("container", "id"), 7, "container.id", "must be a string"),
    (("container", "id"), "Shop", "container.id", "must be 1-64 characters"),
    (("container", "id"), "-shop", "container.id", "starting with a letter or digit"),
    (("container", "id"), "a" * 65, "container.id", "must be 1-64 characters"),
    (("container", "id"), "shop\n", "container.id", "must be 1-64 characters"),
    (("container", "id"), "", "container.id", "must be 1-64 characters"),
    # container.gtag: which GA4 streams the gtag intake takes
    (("container", "gtag"), [], "container.gtag", "must be an object"),
    (("container", "gtag"), {}, "container.gtag.measurement_ids", "required field is missing"),
    (("container", "gtag"), {"measurement_ids": ["G-ABC1234"], "stream": 1},
     "container.gtag.stream", "unknown field 'stream'"),
    (("container", "gtag"), {"measurement_ids": []}, "container.gtag.measurement_ids",
     "must not be empty"),
    (("container", "gtag"), {"measurement_ids": "G-ABC1234"}, "container.gtag.measurement_ids",
     "must be a list"),
    (("container", "gtag"), {"measurement_ids": ["g-abc1234"]},
     "container.gtag.measurement_ids[0]", "must be a GA4 measurement id"),
    (("container", "gtag"), {"measurement_ids": ["UA-1234-1"]},
     "container.gtag.measurement_ids[0]", "must be a GA4 measurement id"),
    (("container", "gtag"), {"measurement_ids": [7]}, "container.gtag.measurement_ids[0]",
     "must be a string"),
    (("container", "gtag"), {"measurement_ids": ["G-ABC1234", "G-ABC1234"]},
     "container.gtag.measurement_ids[1]", "duplicate measurement id 'G-ABC1234'"),
    (("container", "gtag"), {"measurement_ids": ["G-ABC1234"], "mp_api_secret": "GA4 Secret"},
     "container.gtag.mp_api_secret", "must name a secret"),
    (("container", "gtag"), {"measurement_ids": ["G-ABC1234"], "mp_api_secret": None},
     "container.gtag.mp_api_secret", "must be a string"),
    (("container", "name"), DELETE, "container.name", "required field is missing"),
    (("container", "name"), "", "container.name", "must not be empty"),
    (("container", "name"), "   ", "container.name", "must not be empty"),
    (("container", "name"), "n" * 201, "container.name", "at most 200 characters"),
    (("container", "name"), None, "container.name", "must be a string"),
    (("container", "domain"), "Collect.Example.com", "container.domain", "lower-case host name"),
    (("container", "domain"), "-collect.example.com", "container.domain", "host name"),
    (("container", "domain"), "collect.example.com.", "container.domain", "host name"),
    (("container", "domain"), "a." * 127, "container.domain", "host name"),
    (("container", "domain"), "https://example.com", "container.domain", "host name"),
    (("container", "allowed_origins"), "https://a.example", "container.allowed_origins", "list"),
    (("container", "allowed_origins", 0), "*", "container.allowed_origins[0]",
     "'*' is not allowed: the collector answers with credentials"),
    (("container", "allowed_origins", 0), "https://a.example/", "container.allowed_origins[0]",
     "no path, query, fragment or trailing slash"),
    (("container", "allowed_origins", 0), "https://a.example/shop", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://a.example?x=1", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "ftp://a.example", "container.allowed_origins[0]",
     "http or https"),
    (("container", "allowed_origins", 0), "a.example", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://u@a.example", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://A.example", "container.allowed_origins[0]",
     "lower case"),
    (("container", "allowed_origins", 0), "https://a.example:443", "container.allowed_origins[0]",
     "default port 443"),
    (("container", "allowed_origins", 0), "http://a.example:80", "container.allowed_origins[0]",
     "default port 80"),
    (("container", "allowed_origins", 0), "https://a.example:99999",
     "container.allowed_origins[0]", "port must be between 1 and 65535"),
    (("container", "allowed_origins", 0), "https://a_b!.example", "container.allowed_origins[0]",
     "not a valid host name"),
    (("container", "allowed_origins", 0), "https://[zz::1]", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://[::1::2]", "container.allowed_origins[0]",
     "not a valid host name or IP address"),
    (("container", "allowed_origins", 1), "https://www.acme-shop.example",
     "container.allowed_origins[1]", "duplicate origin 'https://www.acme-shop.example'"),
    (("container", "allowed_origins", 1), 443, "container.allowed_origins[1]", "must be a string"),
    (("container", "default_country"), "de", "container.default_country", "ISO 3166-1 alpha-2"),
    (("container", "default_country"), "DEU", "container.default_country", "two upper-case"),
    (("container", "default_country"), 49, "container.default_country", "must be a string"),
    (("container", "consent_policy"), "lenient", "container.consent_policy",
     "must be one of 'strict', 'basic'"),
    (("container", "consent_policy"), True, "container.consent_policy", "must be one of"),
    (("container", "currency_default"), "eur", "container.currency_default",
     "three upper-case letters"),
    (("container", "currency_default"), "EURO", "container.currency_default",
     "three upper-case letters"),
    (("container", "currency_default"), "XYZ", "container.currency_default",
     "'XYZ' is not an active ISO 4217 currency code"),
    (("container", "currency_default"), "HRK", "container.currency_default", "not an active"),
    (("container", "currency_default"), "XAU", "container.currency_default", "not an active"),
    (("container", "currency_default"), 978, "container.currency_default", "must be a string"),
    (("container", "pii_policy"), "drop", "container.pii_policy",
     "must be one of 'remove', 'hash'"),
    (("container", "pii_policy"), None, "container.pii_policy", "must be one of"),
    # triggers
    (("triggers", 0, "colour"), "red", "triggers[0].colour", "unknown field 'colour'"),
    (("triggers", 0, "exceptions"), "qa", "triggers[0].exceptions",
     "must be a list of at most 20 conditions"),
    (("triggers", 0, "name"), DELETE, "triggers[0].name", "required field is missing"),
    (("triggers", 0, "name"), "", "triggers[0].name", "must not be empty"),
    (("triggers", 0, "events"), DELETE, "triggers[0].events", "required field is missing"),
    (("triggers", 0, "events"), "purchase", "triggers[0].events", "must be a list"),
    (("triggers", 0, "events"), [], "triggers[0].events", "must not be empty"),
    (("triggers", 0, "events", 0), "Purchase", "triggers[0].events[0]", "must be '*', an event"),
    (("triggers", 0, "events", 0), "e" * 41, "triggers[0].events[0]", "1-40 characters"),
    (("triggers", 0, "events", 0), "pur*chase", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "*purchase", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "purchase**", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "", "triggers[0].events[0]", "must be '*'"),
    (("triggers", 0, "events", 0), None, "triggers[0].events[0]", "must be a string"),
    (("triggers", 1, "events", 1), "generate_lead", "triggers[1].events[1]",
     "duplicate event 'generate_lead'"),
    # tags: shape and simple fields
    (("tags", 0), None, "tags[0]", "must be an object"),
    (("tags", 0, "priority"), 1, "tags[0].priority", "unknown field 'priority'"),
    (("tags", 0, "id"), DELETE, "tags[0].id", "required field is missing"),
    (("tags", 0, "id"), "Orders To Warehouse", "tags[0].id", "must be 1-64 characters"),
    (("tags", 1, "id"), "warehouse-orders", "tags[1].id",
     "duplicate id 'warehouse-orders' (first at tags[0])"),
    (("tags", 0, "name"), "x" * 201, "tags[0].name", "at most 200 characters"),
    (("tags", 0, "enabled"), "true", "tags[0].enabled", "must be true or false"),
    (("tags", 0, "enabled"), 1, "tags[0].enabled", "must be true or false"),
    (("tags", 0, "fire_once"), "always", "tags[0].fire_once",
     "must be one of 'none', 'event_id', 'transaction_id', 'lead_id'"),
    # tags: template
    (("tags", 0, "template"), DELETE, "tags[0].template", "required field is missing"),
    (("tags", 0, "template"), "gtag", "tags[0].template",
     "unknown template 'gtag'; known: ga4, google_ads, linkedin, meta, order_feed, tiktok, "
     "webhook"),
    (("tags", 0, "template"), "Order_Feed", "tags[0].template", "unknown template 'Order_Feed'"),
    (("tags", 0, "template"), ["webhook"], "tags[0].template", "must be a string"),
    (("tags", 0, "params"), DELETE, "tags[0].params", "required field is missing"),
    (("tags", 0, "params"), "https://x.example", "tags[0].params", "params must be an object"),
    (("tags", 0, "params"), None, "tags[0].params", "params must be an object"),
    # tags: params of the shipped webhook template
    (("tags", 0, "params", "method"), "PUT", "tags[0].params.method", "unknown parameter"),
    (("tags", 0, "params", "url"), DELETE, "tags[0].params.url", "required"),
    (("tags", 0, "params", "url"), 42, "tags[0].params.url", "must be a string"),
    (("tags", 0, "params", "url"), None, "tags[0].params.url", "must be a string"),
    (("tags", 0, "params", "url"), "http://ingest.example.com/x", "tags[0].params.url",
     HTTPS_ONLY),
    (("tags", 0, "params", "url"), "http://localhost.evil.example/x", "tags[0].params.url",
     HTTPS_ONLY),
    (("tags", 0, "params", "url"), "http://127.1/x", "tags[0].params.url",
     "host '127.1' reads as a number; write IPv4 addresses as a.b.c.d"),
    (("tags", 0, "params", "url"), "http://2130706433/x", "tags[0].params.url",
     "host '2130706433' reads as a number"),
    (("tags", 0, "params", "url"), "https://[::1/x", "tags[0].params.url",
     "url cannot be parsed: Invalid IPv6 URL"),
    (("tags", 0, "params", "url"), "http://[::2]/x", "tags[0].params.url", HTTPS_ONLY),
    (("tags", 0, "params", "url"), "http://0.0.0.0/x", "tags[0].params.url", HTTPS_ONLY),
    (("tags", 0, "params", "url"), "http://[::ffff:127.0.0.1]/x", "tags[0].params.url",
     HTTPS_ONLY),
    (("tags", 0, "params", "url"), "https://ingest.example.com@evil.example/x",
     "tags[0].params.url", "userinfo ('user@') is not allowed in the url"),
    (("tags", 0, "params", "url"), "https://user:pw@ingest.example.com/x", "tags[0].params.url",
     "userinfo ('user@') is not allowed in the url"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/x#top", "tags[0].params.url",
     "url must not have a #fragment"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/" + "p" * 4070,
     "tags[0].params.url", "url longer than 4096 characters"),
    (("tags", 0, "params", "url"), "", "tags[0].params.url", "url must be a non-empty string"),
    (("tags", 0, "params", "url"), "//ingest.example.com/x", "tags[0].params.url",
     "scheme '' is not allowed; use https"),
    (("tags", 0, "params", "url"), "ftp://ingest.example.com/x", "tags[0].params.url",
     "scheme 'ftp' is not allowed; use https"),
    (("tags", 0, "params", "url"), "javascript:alert(1)", "tags[0].params.url",
     "scheme 'javascript' is not allowed; use https"),
    (("tags", 0, "params", "url"), "https:///x", "tags[0].params.url", "URL has no host"),
    (("tags", 0, "params", "url"), "https://in gest.example.com/", "tags[0].params.url",
     "url contains spaces, control characters or backslashes"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/\nx", "tags[0].params.url",
     "url contains spaces, control characters or backslashes"),
    (("tags", 0, "params", "url"), "https://ingest.example.com\\@evil/", "tags[0].params.url",
     "url contains spaces, control characters or backslashes"),
    (("tags", 0, "params", "url"), "https://ingest.example.com:0/", "tags[0].params.url",
     "port 0 is out of range"),
    (("tags", 0, "params", "url"), "https://ingest.example.com:99999/", "tags[0].params.url",
     "port 99999 is out of range"),
    (("tags", 0, "params", "url"), "https://ingest.example.com:https/", "tags[0].params.url",
     "invalid port in 'ingest.example.com:https'"),
    (("tags", 0, "params", "url"), "https://bad_host!.example/", "tags[0].params.url",
     "host 'bad_host!.example' is not a valid domain name"),
    (("tags", 0, "params", "url"), "https://%65vil.example/", "tags[0].params.url",
     "percent-encoded characters are not allowed in the host"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/a/../b", "tags[0].params.url",
     "'.' and '..' path segments are not allowed"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/a/%2E%2e/b", "tags[0].params.url",
     "'.' and '..' path segments are not allowed"),
    (("tags", 0, "params", "headers"), "X-Source: tagwire", "tags[0].params.headers",
     "must be an object of strings"),
    (("tags", 0, "params", "headers"), ["X-Source"], "tags[0].params.headers",
     "must be an object of strings"),
    (("tags", 0, "params", "headers", "X-Source"), 1, "tags[0].params.headers",
     "must be an object of strings"),
    (("tags", 1, "params", "event_names"), ["Lead"], "tags[1].params.event_names",
     "must be an object of strings"),
    (("tags", 1, "params", "event_names", "sign_up"), 3, "tags[1].params.event_names",
     "must be an object of strings"),
    (("tags", 0, "params", "include_client"), "no", "tags[0].params.include_client",
     "must be true or false"),
    (("tags", 0, "params", "include_client"), 0, "tags[0].params.include_client",
     "must be true or false"),
    (("tags", 0, "params", "include_client"), None, "tags[0].params.include_client",
     "must be true or false"),
    # tags: params of the example's document template
    (("tags", 3, "params", "endpoint"), DELETE, "tags[3].params.endpoint", "required"),
    (("tags", 3, "params", "endpoint"), "http://finance.acme-shop.example/",
     "tags[3].params.endpoint", HTTPS_ONLY),
    (("tags", 3, "params", "endpoint"), ["https://finance.acme-shop.example/"],
     "tags[3].params.endpoint", "must be a string"),
    (("tags", 3, "params", "currency"), 978, "tags[3].params.currency", "must be a string"),
    (("tags", 3, "params", "currency"), "eur", "tags[3].params.currency", "must match '[A-Z]{3}'"),
    (("tags", 3, "params", "url"), "https://x.example/", "tags[3].params.url",
     "unknown parameter"),
    (("tags", 3, "params"), [], "tags[3].params", "params must be an object"),
    # trigger references
    (("tags", 0, "firing_triggers"), DELETE, "tags[0].firing_triggers", "required field"),
    (("tags", 0, "firing_triggers"), [], "tags[0].firing_triggers", "must not be empty"),
    (("tags", 0, "firing_triggers"), "purchases", "tags[0].firing_triggers", "must be a list"),
    (("tags", 0, "firing_triggers", 0), "lead_confirm", "tags[0].firing_triggers[0]",
     "unknown trigger 'lead_confirm'"),
    (("tags", 0, "firing_triggers", 0), 1, "tags[0].firing_triggers[0]", "must be a string"),
    (("tags", 2, "firing_triggers", 1), "checkout-steps", "tags[2].firing_triggers[1]",
     "duplicate trigger 'checkout-steps'"),
    (("tags", 0, "blocking_triggers"), {}, "tags[0].blocking_triggers", "must be a list"),
    (("tags", 0, "blocking_triggers", 0), "nope", "tags[0].blocking_triggers[0]",
     "unknown trigger 'nope'"),
    (("tags", 0, "blocking_triggers", 0), "purchases", "tags[0].blocking_triggers[0]",
     "'purchases' is also in firing_triggers"),
    # consent
    (("tags", 0, "consent"), "granted", "tags[0].consent", "must be an object"),
    (("tags", 0, "consent", "tcf"), [], "tags[0].consent.tcf", "unknown field 'tcf'"),
    (("tags", 0, "consent", "gcm"), "ad_storage", "tags[0].consent.gcm", "must be a list"),
    (("tags", 0, "consent", "gcm", 0), "ad_click", "tags[0].consent.gcm[0]",
     "unknown consent type 'ad_click'; known: ad_storage, analytics_storage"),
    (("tags", 1, "consent", "gcm", 1), "ad_storage", "tags[1].consent.gcm[1]",
     "duplicate consent type 'ad_storage'"),
    (("tags", 0, "consent", "purposes"), 1, "tags[0].consent.purposes", "must be a list"),
    (("tags", 0, "consent", "purposes", 0), 0, "tags[0].consent.purposes[0]", "from 1 to 11"),
    (("tags", 0, "consent", "purposes", 0), 12, "tags[0].consent.purposes[0]", "from 1 to 11"),
    (("tags", 0, "consent", "purposes", 0), True, "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), 1.0, "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), "1", "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), 10**5000, "tags[0].consent.purposes[0]", "1 to 11"),
    (("tags", 0, "consent", "purposes", 1), 1, "tags[0].consent.purposes[1]",
     "duplicate purpose 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "value", "path", "fragment"),
    RULES,
    ids=[f"{path}: {fragment}" for _, _, path, fragment in RULES],  # values can be huge ints
)
def test_each_rule_reports_one_issue_at_its_path(keys, value, path, fragment):
    issues = validate_document(mutated(keys, value))
    assert len(issues) == 1, issues
    assert issues[0].path == path
    assert fragment in issues[0].reason


@pytest.mark.parametrize("doc", [None, [], "container", 3, 2.5, True])
def test_document_must_be_an_object(doc):
    [issue] = validate_document(doc)
    assert issue.path == "$"
    assert "must be an object" in issue.reason


@pytest.mark.parametrize(
    ("keys", "value"),
    [
        (("container", "allowed_origins"), ["http://127.0.0.1:8000", "http://[::1]:8000"]),
        (("container", "allowed_origins"), ["https://a.example:8443", "http://localhost:3000"]),
        (("container", "allowed_origins"), []),
        (("container", "consent_policy"), "basic"),
        (("container", "currency_default"), "XCG"),
        (("container", "pii_policy"), "hash"),
        (("container", "gtag"), {"measurement_ids": ["G-ABC1234"]}),
        (("container", "gtag"), {"measurement_ids": ["G-ABC1234", "G-" + "Z9" * 10],
                                  "mp_api_secret": "ga4-mp-secret"}),
        (("triggers", 0, "events"), ["*"]),
        (("triggers", 0, "events"), ["purchase_*", "e" * 40, "e" * 39 + "*"]),
        (("tags", 0, "params", "url"), "http://127.0.0.2:9100/hook"),
        (("tags", 0, "params", "url"), "http://localhost/hook?x=1"),
        (("tags", 0, "params", "url"), "http://LOCALHOST./hook"),
        (("tags", 0, "params", "url"), "http://[::1]:8080/hook"),
        (("tags", 0, "params", "url"), "HTTPS://Ingest.Example.com/x"),
        (("tags", 0, "params", "url"), "https://ingest.example.com./x"),
        (("tags", 0, "params", "url"), "https://exämple.com/x"),
        (("tags", 0, "params", "url"), "https://203.0.113.9:8443/x"),
        (("tags", 0, "params", "url"), "https://[2001:db8::1]/x"),
        (("tags", 0, "params", "url"), "https://ingest.example.com/" + "p" * 4069),
        (("tags", 0, "params", "headers"), {f"X-H{i}": "v\tw" for i in range(20)}),
        (("tags", 0, "params", "headers"), {}),
        (("tags", 1, "params", "event_names"), {"sign_up": "Complete Registration: v2.1-b"}),
        (("tags", 0, "params", "include_client"), True),
        (("tags", 3, "params", "currency"), "JPY"),
        (("tags", 0, "consent"), {"purposes": list(range(1, 12))}),
        (("tags", 0, "fire_once"), "none"),
    ],
)
def test_valid_variants(keys, value):
    assert validate_document(mutated(keys, value)) == []


# Header names and values and the reserved headers are checked by the runtime when a
# template queues a request (tags/runtime.py), and event_names values are the template's
# business: the schema only asks for an object of strings.
@pytest.mark.parametrize(
    "params",
    [
        {"headers": {"Host": "evil.example"}},
        {"headers": {"Content-Length": "1", "transfer-encoding": "chunked"}},
        {"headers": {"X Api": "1", "": "x"}},
        {"headers": {"X-Source": "a", "x-source": "b"}},
        {"headers": {"X-Source": "a\r\nX-Injected: 1"}},
        {"headers": {"X-Source": "caf\u00e9"}},
        {"headers": {f"X-H{i}": "v" for i in range(21)}},
        {"event_names": {"Lead": "Sign\nUp", "sign_up": "S" * 65}},
    ],
)
def test_header_and_event_name_contents_are_left_to_the_runtime(params):
    doc = minimal()
    doc["tags"][0]["params"].update(params)
    assert validate_document(doc) == []


# --- Document templates -------------------------------------------------------------------


def test_a_document_template_is_built_into_a_package():
    package = template_package(with_templates(crm_template()), "crm_hook")
    assert package.name == "crm_hook"  # the id, when no name is given
    assert package.version == "1.2.0"
    assert package.description == "Leads to the CRM."
    assert package.source == crm_template()["lua"]
    assert package.params_schema == crm_template()["params"]
    assert package.manifest.read_keys == ("event_id",)
    assert package.manifest.secrets == ("token",)
    assert [grant.param for grant in package.manifest.send_http] == ["url"]
    assert package.limits.deadline_ms == 20


def test_template_package_falls_back_to_the_shipped_template():
    assert template_package(with_templates(crm_template()), "webhook") == shipped_template(
        "webhook"
    )
    assert SHIPPED == ("meta", "tiktok", "linkedin", "google_ads", "ga4", "webhook")


def test_a_template_may_be_just_an_id_and_source():
    doc = with_templates({"id": "noop", "lua": ""})
    assert validate_document(doc) == []
    package = template_package(doc, "noop")
    assert (package.name, package.version, package.description) == ("noop", "0.0.0", "")
    assert package.params_schema == {}
    assert package.tests == []


# Each case changes one field of crm_template() (in a document whose tags do not use it)
# and must produce exactly this one issue.
TEMPLATE_RULES = [
    # the entry and its id
    ((), "crm_hook", "templates[0]", "must be an object"),
    ((), None, "templates[0]", "must be an object"),
    (("id",), DELETE, "templates[0].id", ID_RULE),
    (("id",), 7, "templates[0].id", ID_RULE),
    (("id",), "CRM", "templates[0].id", ID_RULE),
    (("id",), "_crm", "templates[0].id", ID_RULE),
    (("id",), "c" * 65, "templates[0].id", ID_RULE),
    (("id",), "webhook", "templates[0].id", "'webhook' is a shipped template's name"),
    (("colour",), "red", "templates[0].colour", "unknown field"),
    (("name",), "CRM Hook", "templates[0].name", "must be 1-64 characters of a-z, 0-9, '_', '-'"),
    (("name",), None, "templates[0].name", "must be 1-64 characters of a-z, 0-9, '_', '-'"),
    (("version",), "", "templates[0].version", "must be a short string such as '1.2.0'"),
    (("version",), "1" * 33, "templates[0].version", "must be a short string such as '1.2.0'"),
    (("version",), 1, "templates[0].version", "must be a short string such as '1.2.0'"),
    (("description",), 3, "templates[0].description", "must be a string"),
    # source: compiled when the container is loaded, but size and form are checked here
    (("lua",), DELETE, "templates[0].lua", "must be the template's Lua source as a string"),
    (("lua",), ["x = 1"], "templates[0].lua", "must be the template's Lua source as a string"),
    (("lua",), "\x1bLuaT\x00\x19\x93", "templates[0].lua",
     "precompiled Lua bytecode is not accepted; send source text"),
    (("lua",), "-" * (MAX_SOURCE_BYTES + 1), "templates[0].lua", "source larger than 65536 bytes"),
    (("lua",), "é" * (MAX_SOURCE_BYTES // 2 + 1), "templates[0].lua",  # bytes, not characters
     "source larger than 65536 bytes"),
    # parameter schema
    (("params",), [], "templates[0].params", "must be an object mapping parameter names to fields"),
    (("params", "URL"), {"type": "string"}, "templates[0].params.URL",
     "parameter names are 1-40 characters of a-z, 0-9, _"),
    (("params", "p" * 41), {"type": "string"}, "templates[0].params." + "p" * 41,
     "parameter names are 1-40 characters of a-z, 0-9, _"),
    (("params", "extra"), "string", "templates[0].params.extra", "must be an object"),
    (("params", "extra"), {}, "templates[0].params.extra.type",
     "must be one of string, integer, number, boolean, list, map, secret"),
    (("params", "extra"), {"type": "text"}, "templates[0].params.extra.type",
     "must be one of string, integer, number, boolean, list, map, secret"),
    (("params", "url", "colour"), "red", "templates[0].params.url.colour", "unknown field"),
    (("params", "url", "required"), "yes", "templates[0].params.url.required",
     "must be true or false"),
    (("params", "extra"), {"type": "string", "format": "email"}, "templates[0].params.extra.format",
     "only 'url' is supported"),
    (("params", "extra"), {"type": "string", "enum": []}, "templates[0].params.extra.enum",
     "must be a non-empty list"),
    (("params", "extra"), {"type": "string", "enum": "abc"}, "templates[0].params.extra.enum",
     "must be a non-empty list"),
    (("params", "extra"), {"type": "string", "enum": ["a", 1]}, "templates[0].params.extra.enum[1]",
     "must be a string"),
    (("params", "extra"), {"type": "integer", "enum": [1, 2.5]},
     "templates[0].params.extra.enum[1]", "must be a whole number"),
    (("params", "extra"), {"type": "string", "pattern": "("}, "templates[0].params.extra.pattern",
     "not a valid regular expression: not a valid RE2 pattern: missing ): ("),
    (("params", "extra"), {"type": "string", "pattern": 5}, "templates[0].params.extra.pattern",
     "not a valid regular expression: must be a string"),
    (("params", "extra"), {"type": "integer", "min": "1"}, "templates[0].params.extra.min",
     "must be a number"),
    (("params", "extra"), {"type": "integer", "max": True}, "templates[0].params.extra.max",
     "must be a number"),
    (("params", "extra"), {"type": "string", "max_length": None},
     "templates[0].params.extra.max_length", "must be a number"),
    # parameter defaults must satisfy their own field
    (("params", "extra"), {"type": "integer", "default": "1"}, "templates[0].params.extra.default",
     "must be a whole number"),
    (("params", "extra"), {"type": "integer", "min": 5, "default": 1},
     "templates[0].params.extra.default", "must be ≥ 5"),
    (("params", "extra"), {"type": "number", "max": 1, "default": 1.5},
     "templates[0].params.extra.default", "must be ≤ 1"),
    (("params", "extra"), {"type": "number", "default": float("nan")},
     "templates[0].params.extra.default", "must be a number"),
    (("params", "extra"), {"type": "boolean", "default": 0}, "templates[0].params.extra.default",
     "must be true or false"),
    (("params", "extra"), {"type": "list", "default": [1]}, "templates[0].params.extra.default",
     "must be a list of strings"),
    (("params", "extra"), {"type": "map", "default": {"a": 1}},
     "templates[0].params.extra.default", "must be an object of strings"),
    (("params", "extra"), {"type": "string", "enum": ["a"], "default": "b"},
     "templates[0].params.extra.default", "must be one of 'a'"),
    (("params", "extra"), {"type": "string", "max_length": 2, "default": "abc"},
     "templates[0].params.extra.default", "longer than 2 characters"),
    (("params", "extra"), {"type": "string", "pattern": "[a-z]+", "default": "A"},
     "templates[0].params.extra.default", "must match '[a-z]+'"),
    (("params", "url", "default"), "http://crm.example.com/", "templates[0].params.url.default",
     HTTPS_ONLY),
    (("params", "url", "default"), "https://crm.example.com/#x", "templates[0].params.url.default",
     "url must not have a #fragment"),
    (("params", "token", "default"), "Bad Token", "templates[0].params.token.default",
     "must name a secret: 1-64 characters of a-z, 0-9, '_', '-'"),
    # permissions
    (("permissions",), [], "templates[0].permissions", "must be an object"),
    (("permissions", "fly"), True, "templates[0].permissions.fly", "unknown permission"),
    (("permissions", "read_event_data"), "all", "templates[0].permissions.read_event_data",
     "must be a list of event key"),
    (("permissions", "read_event_data", 0), "Event_ID",
     "templates[0].permissions.read_event_data[0]", "not a valid event key"),
    (("permissions", "read_event_data", 0), "data.*.x",
     "templates[0].permissions.read_event_data[0]", "not a valid event key"),
    (("permissions", "logging"), "yes", "templates[0].permissions.logging",
     "must be true or false"),
    (("permissions", "get_cookies"), ["a b"], "templates[0].permissions.get_cookies[0]",
     "not a valid cookie name or name prefix ending in '*'"),
    (("permissions", "set_cookies"), "_fbp", "templates[0].permissions.set_cookies",
     "must be a list of cookie name"),
    (("permissions", "pixel"), ["FB"], "templates[0].permissions.pixel[0]", "not a valid vendor"),
    (("permissions", "secrets", 0), "Token", "templates[0].permissions.secrets[0]",
     "not a valid parameter name"),
    (("permissions", "secrets", 0), "url", "templates[0].permissions.secrets",
     "'url' must be a parameter of type 'secret'"),
    (("permissions", "send_http"), "param:url", "templates[0].permissions.send_http",
     "must be a list of {url, methods} objects"),
    (("permissions", "send_http", 0), "param:url", "templates[0].permissions.send_http[0]",
     "must be an object with a 'url' string"),
    (("permissions", "send_http", 0, "url"), DELETE, "templates[0].permissions.send_http[0]",
     "must be an object with a 'url' string"),
    (("permissions", "send_http", 0, "colour"), "red",
     "templates[0].permissions.send_http[0].colour", "unknown field"),
    (("permissions", "send_http", 0, "methods"), ["FETCH"],
     "templates[0].permissions.send_http[0].methods",
     "must be a non-empty list of GET, POST, PUT, PATCH, DELETE"),
    (("permissions", "send_http", 0, "methods"), [],
     "templates[0].permissions.send_http[0].methods",
     "must be a non-empty list of GET, POST, PUT, PATCH, DELETE"),
    (("permissions", "send_http", 0, "url"), "param:URL",
     "templates[0].permissions.send_http[0].url", "'param:' must name a parameter, got 'URL'"),
    (("permissions", "send_http", 0, "url"), "param:endpoint", "templates[0].permissions.send_http",
     "param:endpoint must be a parameter with format 'url'"),
    (("permissions", "send_http", 0, "url"), "param:token", "templates[0].permissions.send_http",
     "param:token must be a parameter with format 'url'"),
    (("permissions", "send_http", 0, "url"), "https://*.crm.*/in",
     "templates[0].permissions.send_http[0].url",
     "pattern 'https://*.crm.*/in': '*' is allowed only as a leading '*.' host label or at the "
     "very end of the path"),
    (("permissions", "send_http", 0, "url"), "https://crm.example.com/in?x=1",
     "templates[0].permissions.send_http[0].url",
     "pattern 'https://crm.example.com/in?x=1' must not have a query"),
    (("permissions", "send_http", 0, "url"), "ftp://crm.example.com/",
     "templates[0].permissions.send_http[0].url", "scheme 'ftp' is not allowed; use https"),
    (("permissions", "send_http", 0, "url"), "https://u@crm.example.com/",
     "templates[0].permissions.send_http[0].url", "userinfo ('user@') is not allowed in the url"),
    # limits and tests
    (("limits",), [], "templates[0].limits", "must be an object"),
    (("limits", "cpu_ms"), 5, "templates[0].limits.cpu_ms",
     "unknown limit; known: instructions, memory_bytes, deadline_ms, max_depth, max_requests, "
     "max_pixels, max_logs, max_log_bytes, max_body_bytes, max_output_bytes"),
    (("limits", "deadline_ms"), 0, "templates[0].limits.deadline_ms",
     "must be a positive whole number"),
    (("limits", "deadline_ms"), -5, "templates[0].limits.deadline_ms",
     "must be a positive whole number"),
    (("limits", "deadline_ms"), 20.0, "templates[0].limits.deadline_ms",
     "must be a positive whole number"),
    (("limits", "deadline_ms"), True, "templates[0].limits.deadline_ms",
     "must be a positive whole number"),
    (("limits", "deadline_ms"), "20", "templates[0].limits.deadline_ms",
     "must be a positive whole number"),
    (("tests",), {}, "templates[0].tests", "must be a list of test objects"),
    (("tests",), None, "templates[0].tests", "must be a list of test objects"),
    (("tests",), [{"name": "ok"}, "bad"], "templates[0].tests", "must be a list of test objects"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "value", "path", "reason"),
    TEMPLATE_RULES,
    ids=[f"{path}: {reason[:50]}" for _, _, path, reason in TEMPLATE_RULES],
)
def test_each_template_rule_reports_one_issue_at_its_path(keys, value, path, reason):
    doc = with_templates(crm_template())
    _replace(doc, ("templates", 0, *keys), value)
    assert [(i.path, i.reason) for i in validate_document(doc)] == [(path, reason)]


@pytest.mark.parametrize(
    ("keys", "value"),
    [
        (("lua",), ""),
        (("lua",), "this is not Lua at all (((("),  # compiled when the container is loaded
        (("lua",), "-" * MAX_SOURCE_BYTES),
        (("lua",), "é" * (MAX_SOURCE_BYTES // 2)),
        (("lua",), " \x1b"),  # only a leading ESC marks bytecode
        (("name",), "crm"),
        (("version",), "v" * 32),
        (("version",), DELETE),
        (("description",), ""),
        (("description",), DELETE),
        (("params", "token"), {"type": "secret", "required": True, "label": "API key name"}),
        (("params", "extra"), {"type": "string", "enum": ["a", "b"], "default": "b"}),
        (("params", "extra"), {"type": "integer", "min": 1, "max": 10, "default": 10}),
        (("params", "extra"), {"type": "number", "min": 0.5, "default": 1}),
        (("params", "extra"), {"type": "string", "pattern": "[a-z]+", "max_length": 3}),
        (("params", "extra"), {"type": "list", "default": ["a"], "description": "Items"}),
        (("params", "extra"), {"type": "map", "default": {}}),
        (("params", "extra"), {"type": "boolean", "default": False}),
        (("params", "url", "default"), "http://localhost:9100/in"),
        (("permissions",), None),
        (("permissions", "read_event_data"), "any"),
        (("permissions", "read_event_data"), ["event", "data.*", "server.client_ip"]),
        (("permissions", "logging"), True),
        (("permissions", "get_cookies"), ["_fbp", "_ga"]),
        (("permissions", "pixel"), ["fbq", "gtag"]),
        (("permissions", "send_http", 0, "methods"), DELETE),
        (("permissions", "send_http", 1), {"url": "https://*.crm.example.com/v*"}),
        (
            ("permissions", "send_http", 1),
            {"url": "https://crm.example.com/in", "methods": ["GET"]},
        ),
        (("limits",), None),
        (("limits",), {}),
        (("limits", "deadline_ms"), 10**9),  # above the cap: clamped, not refused
        (("limits", "instructions"), 1),
        (("tests",), DELETE),
        (("tests",), [{"name": "anything: run by 'tagwire template test', not here"}]),
    ],
)
def test_valid_template_variants(keys, value):
    doc = with_templates(crm_template())
    if keys[:2] == ("permissions", "send_http") and keys[2:] == (1,):
        doc["templates"][0]["permissions"]["send_http"].append(value)
    else:
        _replace(doc, ("templates", 0, *keys), value)
    assert validate_document(doc) == []


def test_limits_above_the_cap_are_clamped():
    doc = with_templates(crm_template())
    doc["templates"][0]["limits"] = {"deadline_ms": 10**9, "max_requests": 3}
    package = template_package(doc, "crm_hook")
    assert package.limits.deadline_ms == 500
    assert package.limits.max_requests == 3


def test_every_problem_of_a_template_is_reported_at_once():
    template = crm_template()
    template.update(version="", description=None, lua="\x1b", limits={"deadline_ms": 0})
    template["permissions"]["fly"] = True
    template["params"]["url"]["required"] = "yes"
    template["surprise"] = 1
    doc = with_templates(template)
    assert [str(i) for i in validate_document(doc)] == [
        "templates[0].surprise: unknown field",
        "templates[0].version: must be a short string such as '1.2.0'",
        "templates[0].description: must be a string",
        "templates[0].lua: precompiled Lua bytecode is not accepted; send source text",
        "templates[0].params.url.required: must be true or false",
        "templates[0].permissions.fly: unknown permission",
        "templates[0].limits.deadline_ms: must be a positive whole number",
    ]


def test_problems_of_several_templates_keep_document_order():
    doc = with_templates(
        {"id": "one", "lua": "\x1b"}, {"id": "two", "lua": ""}, {"id": "three", "lua": 3}
    )
    assert [str(i) for i in validate_document(doc)] == [
        "templates[0].lua: precompiled Lua bytecode is not accepted; send source text",
        "templates[2].lua: must be the template's Lua source as a string",
    ]


def test_duplicate_template_id_names_the_first():
    doc = with_templates(crm_template(), {"id": "other", "lua": ""}, crm_template())
    assert [str(i) for i in validate_document(doc)] == [
        "templates[2].id: duplicate id 'crm_hook' (first at templates[0])"
    ]
    doc["templates"].append({"id": "crm_hook", "lua": ""})
    assert [str(i) for i in validate_document(doc)] == [
        "templates[2].id: duplicate id 'crm_hook' (first at templates[0])",
        "templates[3].id: duplicate id 'crm_hook' (first at templates[0])",
    ]


def test_a_template_with_a_shipped_name_is_refused_and_does_not_replace_it():
    clash = {"id": "webhook", "lua": "", "params": {"target": {"type": "string"}}}
    doc = with_templates(clash, crm_template())
    # The tag still uses the shipped webhook: its `url` is known, `target` is not.
    assert [str(i) for i in validate_document(doc)] == [
        "templates[0].id: 'webhook' is a shipped template's name"
    ]
    doc["tags"][0]["params"] = {"target": "x"}
    assert [str(i) for i in validate_document(doc)] == [
        "templates[0].id: 'webhook' is a shipped template's name",
        "tags[0].params.target: unknown parameter",
        "tags[0].params.url: required",
    ]


@pytest.mark.parametrize("shipped", SHIPPED)
def test_every_shipped_name_is_reserved(shipped):
    doc = with_templates({"id": shipped, "lua": ""})
    assert [str(i) for i in validate_document(doc)] == [
        f"templates[0].id: {shipped!r} is a shipped template's name"
    ]


SHIPPED_KNOWN = ", ".join(sorted(SHIPPED))


def test_a_template_whose_id_is_unusable_is_unknown_to_the_tags_using_it():
    # Like a broken trigger: without a usable id there is nothing for a tag to name.
    doc = example()
    doc["templates"][0]["id"] = "Order Feed"
    doc["tags"][3]["template"] = "Order Feed"
    assert [str(i) for i in validate_document(doc)] == [
        f"templates[0].id: {ID_RULE}",
        "tags[3].template: unknown template 'Order Feed'; known: " + SHIPPED_KNOWN,
    ]


def test_a_broken_template_is_reported_at_the_template():
    doc = mutated(("templates", 0, "version"), 2)
    issues = validate_document(doc)
    assert str(issues[0]) == "templates[0].version: must be a short string such as '1.2.0'"
    assert all(not i.path.startswith("tags[3].params") for i in issues)


def test_unusable_template_list_does_not_flood_tags_with_unknown_templates():
    doc = mutated(("templates",), {"id": "order_feed"})
    doc["tags"][0]["params"]["url"] = "http://ingest.example.com/"  # shipped: still checked
    assert [str(i) for i in validate_document(doc)] == [
        "templates: must be a list",
        f"tags[0].params.url: {HTTPS_ONLY}",
    ]


def test_unknown_template_lists_shipped_and_document_templates_sorted():
    doc = with_templates({"id": "zeta", "lua": ""}, {"id": "alpha", "lua": ""})
    doc["tags"][0]["template"] = "gtag"
    doc["tags"][0]["params"] = {"anything": 1}  # not checked: there is no schema to check
    assert [str(i) for i in validate_document(doc)] == [
        "tags[0].template: unknown template 'gtag'; known: alpha, ga4, google_ads, linkedin, "
        "meta, tiktok, webhook, zeta"
    ]


def test_without_templates_only_shipped_ones_are_known():
    doc = minimal()
    doc["tags"][0]["template"] = "crm_hook"
    assert [str(i) for i in validate_document(doc)] == [
        "tags[0].template: unknown template 'crm_hook'; known: " + SHIPPED_KNOWN
    ]


def test_template_ids_are_case_sensitive_and_exact():
    doc = with_templates(crm_template())
    doc["tags"][0].update(template="crm_hook ", params={})
    [issue] = validate_document(doc)
    assert issue.reason == (
        "unknown template 'crm_hook '; known: crm_hook, ga4, google_ads, linkedin, meta, "
        "tiktok, webhook"
    )


# --- Tag params against a document template -----------------------------------------------


def every_type_template() -> dict[str, Any]:
    return {
        "id": "every_type",
        "lua": "",
        "params": {
            "endpoint": {"type": "string", "format": "url", "required": True},
            "label": {"type": "string", "max_length": 8, "pattern": "[a-z]+"},
            "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
            "count": {"type": "integer", "min": 1, "max": 10, "default": 3},
            "ratio": {"type": "number", "min": 0, "max": 1},
            "on": {"type": "boolean", "default": True},
            "ids": {"type": "list", "default": []},
            "extra": {"type": "map"},
            "token": {"type": "secret"},
        },
        "permissions": {"send_http": [{"url": "param:endpoint"}], "secrets": ["token"]},
    }


def every_type_doc(params: dict[str, Any]) -> dict[str, Any]:
    doc = with_templates(every_type_template())
    doc["tags"][0].update(template="every_type", params=params)
    return doc


ENDPOINT = "https://api.example.com/in"

PARAM_RULES = [
    ("endpoint", DELETE, "required"),
    ("endpoint", 1, "must be a string"),
    ("endpoint", "http://api.example.com/in", HTTPS_ONLY),
    ("endpoint", "https://u@api.example.com/in", "userinfo ('user@') is not allowed in the url"),
    ("endpoint", "https://api.example.com/in#x", "url must not have a #fragment"),
    ("endpoint", "api.example.com/in", "scheme '' is not allowed; use https"),
    ("label", "abcdefghi", "longer than 8 characters"),
    ("label", "ABC", "must match '[a-z]+'"),
    ("label", "", "must match '[a-z]+'"),
    ("label", ["abc"], "must be a string"),
    ("mode", "slow", "must be one of 'fast', 'safe'"),
    ("mode", "Fast", "must be one of 'fast', 'safe'"),
    ("mode", None, "must be a string"),
    ("count", 0, "must be ≥ 1"),
    ("count", 11, "must be ≤ 10"),
    ("count", 1.5, "must be a whole number"),
    ("count", 3.0, "must be a whole number"),
    ("count", True, "must be a whole number"),
    ("count", "3", "must be a whole number"),
    ("ratio", -0.1, "must be ≥ 0"),
    ("ratio", 2, "must be ≤ 1"),
    ("ratio", float("inf"), "must be a number"),
    ("ratio", float("nan"), "must be a number"),
    ("ratio", False, "must be a number"),
    ("ratio", "0.5", "must be a number"),
    ("on", "yes", "must be true or false"),
    ("on", 1, "must be true or false"),
    ("ids", "a,b", "must be a list of strings"),
    ("ids", ["a", 1], "must be a list of strings"),
    ("ids", {"a": "b"}, "must be a list of strings"),
    ("extra", {"a": 1}, "must be an object of strings"),
    ("extra", [], "must be an object of strings"),
    ("token", "Bad Token", "must name a secret: 1-64 characters of a-z, 0-9, '_', '-'"),
    ("token", "", "must name a secret: 1-64 characters of a-z, 0-9, '_', '-'"),
    ("token", 5, "must be a string"),
    ("colour", "red", "unknown parameter"),
]


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    PARAM_RULES,
    ids=[f"{name}={value!r}" for name, value, _ in PARAM_RULES],
)
def test_each_param_rule_of_a_document_template(name, value, reason):
    params = {"endpoint": ENDPOINT}
    if value is DELETE:
        del params[name]
    else:
        params[name] = value
    issues = validate_document(every_type_doc(params))
    assert [(i.path, i.reason) for i in issues] == [(f"tags[0].params.{name}", reason)]


@pytest.mark.parametrize(
    "params",
    [
        {"endpoint": ENDPOINT},
        {"endpoint": "http://127.0.0.1:9100/in"},
        {"endpoint": ENDPOINT, "label": "abcdefgh", "mode": "fast", "count": 1, "ratio": 0},
        {"endpoint": ENDPOINT, "count": 10, "ratio": 1, "on": False, "ids": ["a", "b"]},
        {"endpoint": ENDPOINT, "ratio": 0.25, "extra": {}, "token": "crm-api_key"},
        {"endpoint": ENDPOINT, "extra": {"X-Key": "v"}, "ids": []},
    ],
)
def test_valid_params_of_a_document_template(params):
    assert validate_document(every_type_doc(params)) == []


def test_param_problems_are_all_reported_sorted_by_name():
    issues = validate_document(every_type_doc({"zeta": 1, "count": 0, "alpha": True}))
    assert [str(i) for i in issues] == [
        "tags[0].params.alpha: unknown parameter",
        "tags[0].params.count: must be ≥ 1",
        "tags[0].params.endpoint: required",
        "tags[0].params.zeta: unknown parameter",
    ]


def test_a_template_without_params_accepts_only_empty_params():
    doc = with_templates({"id": "noop", "lua": ""})
    doc["tags"][0].update(template="noop", params={})
    assert validate_document(doc) == []
    doc["tags"][0]["params"] = {"url": "https://hooks.example.com/in"}
    assert [str(i) for i in validate_document(doc)] == ["tags[0].params.url: unknown parameter"]


def test_tags_sharing_a_template_are_checked_each_against_it():
    doc = every_type_doc({"endpoint": ENDPOINT})
    doc["tags"].append({**copy.deepcopy(doc["tags"][0]), "id": "hook2", "params": {"count": 99}})
    assert [str(i) for i in validate_document(doc)] == [
        "tags[1].params.count: must be ≤ 10",
        "tags[1].params.endpoint: required",
    ]


def test_a_document_template_can_be_defined_after_first_use_in_the_file():
    doc = every_type_doc({"endpoint": ENDPOINT})
    reordered = {"tags": doc.pop("tags"), **doc}  # key order must not matter
    assert validate_document(reordered) == []


# --- Whole documents ----------------------------------------------------------------------


def test_duplicate_trigger_id_names_the_first():
    doc = example()
    doc["triggers"].append({"id": "leads", "name": "Leads again", "events": ["lead"]})
    assert [str(i) for i in validate_document(doc)] == [
        "triggers[4].id: duplicate id 'leads' (first at triggers[1])"
    ]


def test_all_issues_are_reported_at_once_in_document_order():
    doc = example()
    doc["container"]["id"] = 5
    doc["container"]["currency_default"] = "XYZ"
    doc["triggers"][0]["events"] = []
    doc["templates"].append({"id": "spare", "lua": "\x1b"})
    doc["tags"][0]["enabled"] = "yes"
    doc["tags"][1]["params"]["url"] = "http://crm.example.com/"
    doc["tags"][2]["firing_triggers"] = ["lead_confirm"]
    doc["tags"][3]["params"]["currency"] = 978
    doc["surprise"] = True
    assert [str(i) for i in validate_document(doc)] == [
        "surprise: unknown field 'surprise'",
        "container.id: must be a string",
        "container.currency_default: 'XYZ' is not an active ISO 4217 currency code",
        "triggers[0].events: must not be empty",
        "templates[1].lua: precompiled Lua bytecode is not accepted; send source text",
        "tags[0].enabled: must be true or false",
        f"tags[1].params.url: {HTTPS_ONLY}",
        "tags[2].firing_triggers[0]: unknown trigger 'lead_confirm'",
        "tags[3].params.currency: must be a string",
    ]


def test_a_broken_trigger_is_also_unknown_to_the_tags_using_it():
    issues = validate_document(mutated(("triggers", 0), "purchase"))
    assert [str(i) for i in issues] == [
        "triggers[0]: must be an object",
        "tags[0].firing_triggers[0]: unknown trigger 'purchases'",
        "tags[3].firing_triggers[0]: unknown trigger 'purchases'",
    ]
    issues = validate_document(mutated(("triggers", 0, "id"), "Purchases"))
    assert [i.path for i in issues] == [
        "triggers[0].id",
        "tags[0].firing_triggers[0]",
        "tags[3].firing_triggers[0]",
    ]


def test_unusable_trigger_list_does_not_flood_tags_with_unknown_triggers():
    issues = validate_document(mutated(("triggers",), {"id": "x"}))
    assert [str(i) for i in issues] == ["triggers: must be a list"]


def test_long_values_are_cut_short_in_reasons():
    [issue] = validate_document(mutated(("tags", 0, "template"), "t" * 10_000))
    assert len(issue.reason.split("; known: ")[0]) < 100
    assert "..." in issue.reason
    [issue] = validate_document(with_templates({"id": "webhook", "lua": ""}))
    assert len(issue.reason) < 120


def test_non_string_keys_from_yaml_are_reported():
    doc = example()
    doc["container"][1] = "one"
    [issue] = validate_document(doc)
    assert str(issue) == "container: field names must be strings, not int"
    doc = example()
    doc["tags"][3][None] = "x"
    [issue] = validate_document(doc)
    assert str(issue) == "tags[3]: field names must be strings, not NoneType"


def test_validation_does_not_mutate_the_document():
    doc = example()
    before = copy.deepcopy(doc)
    validate_document(doc)
    apply_defaults(doc)
    template_package(doc, "order_feed")
    assert doc == before


# --- Defaults -----------------------------------------------------------------------------


def test_defaults_are_filled_in():
    doc = minimal()
    full = apply_defaults(doc)
    assert full["variables"] == []
    assert full["templates"] == []
    assert full["container"]["allowed_origins"] == []
    assert full["container"]["consent_policy"] == "strict"
    assert full["container"]["pii_policy"] == "remove"
    assert "domain" not in full["container"]
    tag = full["tags"][0]
    assert tag["blocking_triggers"] == []
    assert tag["consent"] == {"gcm": [], "purposes": []}
    assert tag["fire_once"] == "event_id"
    assert tag["enabled"] is True
    assert tag["params"] == {
        "url": "https://hooks.example.com/in",
        "event_names": {},
        "headers": {},
        "include_client": False,
    }
    assert validate_document(full) == []
    assert doc == minimal()


def test_defaults_keep_given_values_and_fill_partial_consent():
    full = apply_defaults(example())
    assert full["tags"][0]["fire_once"] == "transaction_id"
    assert full["tags"][0]["params"]["headers"] == {"X-Source": "tagwire", "X-Schema-Version": "1"}
    assert full["tags"][2]["enabled"] is False
    assert full["tags"][2]["params"]["include_client"] is True
    doc = minimal()
    doc["tags"][0]["consent"] = {"gcm": ["ad_storage"]}
    assert apply_defaults(doc)["tags"][0]["consent"] == {"gcm": ["ad_storage"], "purposes": []}


def test_defaults_of_a_document_template_fill_the_tag_params():
    full = apply_defaults(example())
    assert full["tags"][3]["params"] == {
        "endpoint": "https://finance.acme-shop.example/api/orders",
        "currency": "EUR",
    }
    assert full["templates"] == example()["templates"]
    assert validate_document(full) == []


def test_document_template_defaults_fill_only_params_that_are_missing():
    doc = every_type_doc({"endpoint": ENDPOINT, "count": 7, "on": False, "label": "abc"})
    params = apply_defaults(doc)["tags"][0]["params"]
    # Params without a default and not given stay absent: the template sees nil.
    assert params == {
        "endpoint": ENDPOINT,
        "label": "abc",
        "mode": "safe",
        "count": 7,
        "on": False,
        "ids": [],
    }


def test_defaults_use_the_template_each_tag_names():
    doc = every_type_doc({"endpoint": ENDPOINT})
    doc["tags"].append({**copy.deepcopy(minimal()["tags"][0]), "id": "hook2"})
    full = apply_defaults(doc)
    assert set(full["tags"][0]["params"]) == {"endpoint", "mode", "count", "on", "ids"}
    assert set(full["tags"][1]["params"]) == {"url", "event_names", "headers", "include_client"}


def test_defaults_never_share_mutable_values_between_tags():
    doc = minimal()
    doc["tags"].append({**copy.deepcopy(doc["tags"][0]), "id": "hook2"})
    full = apply_defaults(doc)
    full["tags"][0]["blocking_triggers"].append("all")
    full["tags"][0]["params"]["headers"]["X-A"] = "1"
    assert full["tags"][1]["blocking_triggers"] == []
    assert full["tags"][1]["params"]["headers"] == {}


# --- Hostile and unusual input ------------------------------------------------------------


def test_document_template_defaults_are_not_shared_between_tags():
    doc = every_type_doc({"endpoint": ENDPOINT})
    doc["tags"].append({**copy.deepcopy(doc["tags"][0]), "id": "hook2"})
    full = apply_defaults(doc)
    full["tags"][0]["params"]["ids"].append("x")
    assert full["tags"][1]["params"]["ids"] == []
    assert full["templates"][0]["params"]["ids"]["default"] == []


def test_every_bad_default_is_reported():
    template = {"id": "t", "lua": "", "params": {"a": {"type": "text"}, "b": {"type": "integer"}}}
    template["params"]["b"]["default"] = "x"
    assert [str(i) for i in validate_document(with_templates(template))] == [
        "templates[0].params.a.type: must be one of string, integer, number, boolean, list, "
        "map, secret",
        "templates[0].params.b.default: must be a whole number",
    ]


def test_non_string_keys_in_map_params_are_reported():
    doc = example()
    doc["tags"][0]["params"]["headers"][1] = "x"
    doc["tags"][1]["params"]["event_names"][None] = "x"
    assert [str(i) for i in validate_document(doc)] == [
        "tags[0].params.headers: must be an object of strings",
        "tags[1].params.event_names: must be an object of strings",
    ]


def test_a_broken_document_template_is_reported_once():
    doc = mutated(("templates", 0, "version"), 2)
    assert [str(i) for i in validate_document(doc)] == [
        "templates[0].version: must be a short string such as '1.2.0'"
    ]


def _tag_params(params: dict) -> dict[str, Any]:
    doc = with_templates(every_type_template())
    doc["tags"][0].update(template="every_type", params={"endpoint": ENDPOINT, **params})
    return doc


def _template_params(params: dict) -> dict[str, Any]:
    return with_templates({"id": "t", "lua": "", "params": params})


# YAML gives non-string keys and integers of any size; Python's URL and regex parsers raise
# more than their documented errors. Each must come back as an issue, never an exception.
HOSTILE = [
    (_tag_params({"endpoint": "https://[::1/"}),
     [("tags[0].params.endpoint", "url cannot be parsed: Invalid IPv6 URL")]),
    (_tag_params({"endpoint": "https://[zz::1]/x"}),
     [("tags[0].params.endpoint", "url cannot be parsed: ")]),
    (_tag_params({1: "x", "zeta": "y"}),
     [("tags[0].params", "unknown parameter"), ("tags[0].params.zeta", "unknown parameter")]),
    (_tag_params({1: "x"}), [("tags[0].params", "unknown parameter")]),
    (_tag_params({"ratio": 10**5000}), [("tags[0].params.ratio", "must be a number")]),
    (_tag_params({"ratio": 2**63}), [("tags[0].params.ratio", "must be a number")]),
    (_tag_params({"count": 10**5000}),
     [("tags[0].params.count", "must be a whole number that fits in 64 bits")]),
    (_tag_params({"count": -(2**63) - 1}),
     [("tags[0].params.count", "must be a whole number that fits in 64 bits")]),
    (_tag_params({"extra": {1: "x"}}), [("tags[0].params.extra", "must be an object of strings")]),
    (_template_params({1: {"type": "string"}}),
     [("templates[0].params", "parameter names are 1-40 characters of a-z, 0-9, _")]),
    (_template_params({"n": {"type": "number", "default": 10**5000}}),
     [("templates[0].params.n.default", "must be a number")]),
    (_template_params({"n": {"type": "integer", "max": -(10**5000), "default": 1}}),
     [("templates[0].params.n.max", "must be a number")]),
    (_template_params({"n": {"type": "integer", "min": 2**64}}),
     [("templates[0].params.n.min", "must be a number")]),
    (_template_params({"c": {"type": "string", "enum": [10**5000], "default": "x"}}),
     [("templates[0].params.c.enum[0]", "must be a string")]),
    (_template_params({"c": {"type": "string", "pattern": "(" * 2000 + ")" * 2000}}),
     [("templates[0].params.c.pattern", "not a valid regular expression: ")]),
    (_template_params({"a": {"type": "string", 1: 2, "x": 3}}),
     [("templates[0].params.a", "unknown field"), ("templates[0].params.a", "unknown field")]),
    (with_templates({"id": "t", "lua": "", 1: "x"}), [("templates[0]", "unknown field")]),
    (with_templates({"id": "t", "lua": "", "permissions": {1: 2}, "limits": {1: 2}}),
     [("templates[0].permissions", "unknown permission"),
      ("templates[0].limits", "unknown limit")]),
    pytest.param(
        with_templates({"id": "t", "lua": "", 1: "x", "colour": "red"}),
        [("templates[0]", "unknown field"), ("templates[0]", "unknown field")],
        id="template metadata with int and str keys",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "expected"), HOSTILE)
def test_hostile_input_becomes_issues(doc, expected):
    """Each issue's path starts with, and its reason with, the expected ones: the details
    (how a non-string key is shown, Python's own parser messages) are not pinned."""
    issues = validate_document(doc)
    assert len(issues) == len(expected), issues
    for issue, (path, reason) in zip(issues, expected, strict=True):
        assert issue.path.startswith(path), issue
        assert issue.reason.startswith(reason), issue


# --- Loading ------------------------------------------------------------------------------


def test_load_json_file():
    assert load_document(EXAMPLE) == example()


@pytest.mark.parametrize("name", ["container.yaml", "container.yml", "CONTAINER.YAML"])
def test_load_yaml_file(tmp_path, name):
    file = tmp_path / name
    file.write_text(yaml.safe_dump(example(), sort_keys=False), encoding="utf-8")
    assert load_document(str(file)) == example()


def test_load_accepts_a_byte_order_mark(tmp_path):
    file = tmp_path / "container.json"
    file.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_document(file) == example()


def _load_issues(path: Path) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert caught.value.source == str(path)
    return [str(issue) for issue in caught.value.issues]


def test_missing_file(tmp_path):
    [issue] = _load_issues(tmp_path / "nope.json")
    assert issue == "$: cannot read file: No such file or directory"


def test_unreadable_file(tmp_path):
    directory = tmp_path / "folder.yaml"
    directory.mkdir()
    [issue] = _load_issues(directory)
    assert issue.startswith("$: cannot read file: ")


def test_unsupported_file_type(tmp_path):
    file = tmp_path / "container.toml"
    file.write_text("")
    [issue] = _load_issues(file)
    assert issue == "$: file name must end in .json, .yaml or .yml"


def test_invalid_utf8_gives_the_position(tmp_path):
    file = tmp_path / "container.json"
    file.write_bytes(b'{\n  "container": "caf\xe9"\n}')
    assert _load_issues(file) == ["$: not valid UTF-8 at line 2, column 20 (byte 21)"]


def test_json_syntax_error_gives_the_position(tmp_path):
    file = tmp_path / "container.json"
    file.write_text('{\n  "container": {"id": "shop",}\n}')
    [issue] = _load_issues(file)
    assert issue.startswith("$: not valid JSON at line 2, column ")
    assert "trailing comma" in issue


def test_yaml_syntax_error_gives_the_position(tmp_path):
    file = tmp_path / "container.yaml"
    file.write_text("container:\n  id: shop\n  name: [Shop\ntags: []\n")
    [issue] = _load_issues(file)
    assert issue.startswith("$: not valid YAML at line 4, column ")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: 1\n---\nb: 2\n", "but found another document"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("a: \x00\n", "special characters are not allowed"),
        ("a: " + "9" * 5000 + "\n", "not valid YAML"),
        ("[" * 100_000, "nested too deeply"),
        ("a: !!int\n", "a value cannot be read"),
        ("a: !!float\n", "a value cannot be read"),
    ],
)
def test_hostile_yaml_is_refused_cleanly(text, fragment):
    with pytest.raises(DocumentError) as caught:
        parse_document(text, "<test>", yaml=True)
    [issue] = caught.value.issues
    assert issue.path == "$"
    assert fragment in issue.reason
    assert "\n" not in issue.reason


def test_deeply_nested_json_is_refused_cleanly():
    with pytest.raises(DocumentError, match="not valid JSON"):
        parse_document("[" * 100_000, "<test>")


def test_yaml_values_of_the_wrong_type_are_issues_not_crashes():
    text = "container: {id: 2024-01-01, name: yes}\ntriggers: !!set {a}\ntags: []\n"
    with pytest.raises(DocumentError) as caught:
        parse_document(text, "<test>", yaml=True)
    assert [str(i) for i in caught.value.issues] == [
        "container.id: must be a string",
        "container.name: must be a string",
        "triggers: must be a list",
    ]


def test_empty_yaml_file_is_not_an_object(tmp_path):
    file = tmp_path / "container.yaml"
    file.write_text("")
    [issue] = _load_issues(file)
    assert issue.startswith("$: must be an object")


def test_invalid_document_lists_every_issue_in_the_message(tmp_path):
    doc = example()
    doc["container"]["id"] = "Bad Id"
    doc["tags"][0]["enabled"] = "yes"
    file = tmp_path / "container.json"
    file.write_bytes(orjson.dumps(doc))
    with pytest.raises(DocumentError) as caught:
        load_document(file)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{file}: 2 issues in the container document"
    assert lines[1].strip().startswith("container.id: must be 1-64 characters")
    assert lines[2].strip() == "tags[0].enabled: must be true or false"


def test_parse_document_accepts_text_and_bytes():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert parse_document(text, "example") == example()
    assert parse_document(text.encode(), "example") == example()
    assert parse_document(text, "example", yaml=True) == example()  # JSON is YAML


def test_document_error_message_and_defaults():
    error = DocumentError([Issue("$", "cannot read file: gone")])
    assert error.source == "<document>"
    assert str(error).splitlines() == [
        "<document>: 1 issue in the container document",
        "  $: cannot read file: gone",
    ]
    assert str(Issue("tags[2].firing_triggers[0]", "unknown trigger 'x'")) == (
        "tags[2].firing_triggers[0]: unknown trigger 'x'"
    )


# --- Properties ---------------------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        "container", "variables", "triggers", "templates", "tags", "id", "name", "domain",
        "allowed_origins", "default_country", "consent_policy", "currency_default", "events",
        "template", "params", "firing_triggers", "blocking_triggers", "consent", "fire_once",
        "enabled", "url", "event_names", "headers", "include_client", "gcm", "purposes",
        "pii_policy", "lua", "version", "description", "permissions", "limits", "tests",
        "type", "required", "default", "enum", "format", "read_event_data", "send_http",
        "methods", "deadline_ms", "endpoint", "currency",
    }
)  # fmt: skip
SAMPLES = ["webhook", "order_feed", "*", "purchases", "https://a.example", "ad_storage", "EUR",
           "string", "url", "param:endpoint", "\x1b", "any"]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([1, -1]).map(lambda sign: sign * 10**5000)  # too long for str()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(SAMPLES)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


def _leaf_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaf_paths(item, (*prefix, key))]
    if isinstance(value, list) and value:
        return [p for index, item in enumerate(value) for p in _leaf_paths(item, (*prefix, index))]
    return [prefix]


LEAF_PATHS = _leaf_paths(example())


def test_leaf_paths_reach_into_the_document_template():
    assert ("templates", 0, "lua") in LEAF_PATHS
    assert ("templates", 0, "params", "endpoint", "format") in LEAF_PATHS
    assert ("tags", 3, "params", "endpoint") in LEAF_PATHS


@given(JSON_VALUES)
def test_validate_never_raises(value):
    issues = validate_document(value)
    assert all(isinstance(issue, Issue) and issue.path and issue.reason for issue in issues)


@given(JSON_VALUES)
def test_validate_never_raises_under_a_document_shape(value):
    for doc in (
        {"container": value, "triggers": value, "tags": value},
        {"tags": [value]},
        {"templates": value, "tags": value},
        {"templates": [value]},
    ):
        assert isinstance(validate_document(doc), list)


@given(JSON_VALUES)
def test_validate_never_raises_on_any_template_entry_or_tag_params(value):
    doc = example()
    doc["templates"].append(value)
    doc["tags"][3]["params"] = value
    assert isinstance(validate_document(doc), list)


@given(st.binary(max_size=200) | st.text(max_size=200), st.booleans())
def test_parse_document_raises_only_document_error(text, as_yaml):
    with contextlib.suppress(DocumentError):
        parse_document(text, "<fuzz>", yaml=as_yaml)


@given(st.sampled_from(LEAF_PATHS), JSON_VALUES)
def test_mutated_example_gives_issues_with_string_paths(keys, value):
    doc = mutated(keys, value)
    before = copy.deepcopy(doc)
    issues = validate_document(doc)
    assert doc == before
    for issue in issues:
        assert isinstance(issue.path, str)
        assert issue.path
        assert isinstance(issue.reason, str)
    if not issues:
        assert validate_document(apply_defaults(doc)) == []
