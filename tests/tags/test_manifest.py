"""Permission manifests: what a template declares, and every way a declaration is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tags.manifest import HttpGrant, Manifest, manifest_param_problems, parse_manifest
from tags.urls import UrlPattern
from tests.helpers import json_values


def test_nothing_is_granted_by_default() -> None:
    assert parse_manifest(None) == (Manifest(), [])
    assert parse_manifest({}) == (Manifest(), [])


def test_a_full_manifest() -> None:
    manifest, problems = parse_manifest(
        {
            "read_event_data": ["event", "data.value", "user.*"],
            "get_cookies": ["_fbp", "_fbc"],
            "set_cookies": ["_fbp"],
            "send_http": [
                {"url": "https://graph.example/v*", "methods": ["POST", "GET"]},
                {"url": "param:endpoint"},
            ],
            "pixel": ["meta", "tiktok"],
            "secrets": ["token"],
            "logging": True,
        },
        {"instructions": 2_000_000, "max_requests": 3},
    )
    assert problems == []
    assert manifest == Manifest(
        read_any=False,
        read_keys=("event", "data.value"),
        read_prefixes=("user.",),
        get_cookies=("_fbp", "_fbc"),
        set_cookies=("_fbp",),
        send_http=(
            HttpGrant(UrlPattern.parse("https://graph.example/v*"), None, ("POST", "GET")),
            HttpGrant(None, "endpoint", ("POST",)),
        ),
        pixel_vendors=("meta", "tiktok"),
        secrets=("token",),
        logging=True,
        limits=(("instructions", 2_000_000), ("max_requests", 3)),
    )


def test_read_any() -> None:
    manifest, problems = parse_manifest({"read_event_data": "any"})
    assert (manifest.read_any, manifest.read_keys, problems) == (True, (), [])


PROBLEMS: list[tuple[str, dict[str, Any], Any, list[tuple[str, str]]]] = [
    ("not an object", ["logging"], None, [("permissions", "must be an object")]),
    ("unknown permissions in document order", {"zeta": 1, "alpha": 2, "mid": 3}, None,
     [("permissions.zeta", "unknown permission"), ("permissions.alpha", "unknown permission"),
      ("permissions.mid", "unknown permission")]),
    ("read keys not a list", {"read_event_data": "all"}, None,
     [("permissions.read_event_data", "must be a list of event key")]),
    ("bad event keys", {"read_event_data": ["Event", "data.*.x", "*", "data..x", 5]}, None,
     [(f"permissions.read_event_data[{i}]", "not a valid event key") for i in range(5)]),
    ("bad cookie names",
     {"get_cookies": ["a b", "", "x" * 65, "*", "a*", "_ga_**"], "set_cookies": ["a;b", "_ga_*"]},
     None,
     [*((f"permissions.get_cookies[{i}]", "not a valid cookie name or name prefix ending in '*'")
        for i in range(6)),
      ("permissions.set_cookies[0]", "not a valid cookie name"),
      ("permissions.set_cookies[1]", "not a valid cookie name")]),
    ("bad vendor", {"pixel": ["Meta"]}, None, [("permissions.pixel[0]", "not a valid vendor")]),
    ("bad secret name", {"secrets": ["Token"]}, None,
     [("permissions.secrets[0]", "not a valid parameter name")]),
    ("logging not bool", {"logging": "yes"}, None,
     [("permissions.logging", "must be true or false")]),
    ("send_http not a list", {"send_http": "https://a.example/"}, None,
     [("permissions.send_http", "must be a list of {url, methods} objects")]),
    ("send_http item without url", {"send_http": [{"methods": ["POST"]}, "x"]}, None,
     [("permissions.send_http[0]", "must be an object with a 'url' string"),
      ("permissions.send_http[1]", "must be an object with a 'url' string")]),
    ("send_http unknown field", {"send_http": [{"url": "https://a.example/", "timeout": 1}]},
     None, [("permissions.send_http[0].timeout", "unknown field")]),
    ("send_http bad methods", {"send_http": [{"url": "https://a.example/", "methods": []},
                                             {"url": "https://a.example/", "methods": ["get"]}]},
     None, [("permissions.send_http[0].methods", "must be a non-empty list of GET, POST, PUT, "
                                                 "PATCH, DELETE"),
            ("permissions.send_http[1].methods", "must be a non-empty list of GET, POST, PUT, "
                                                 "PATCH, DELETE")]),
    ("send_http bad param", {"send_http": [{"url": "param:End Point"}]}, None,
     [("permissions.send_http[0].url", "'param:' must name a parameter, got 'End Point'")]),
    ("send_http bad pattern", {"send_http": [{"url": "https://a.*.example/"}]}, None,
     [("permissions.send_http[0].url", "pattern 'https://a.*.example/': '*' is allowed only "
                                       "as a leading '*.' host label or at the very end of "
                                       "the path")]),
    ("send_http pattern with userinfo", {"send_http": [{"url": "https://a.example@b.example/"}]},
     None, [("permissions.send_http[0].url", "userinfo ('user@') is not allowed in the url")]),
    ("send_http pattern that cannot be parsed", {"send_http": [{"url": "https://[::1/"}]}, None,
     [("permissions.send_http[0].url", "url cannot be parsed: Invalid IPv6 URL")]),
    ("limits not an object", {}, [1], [("limits", "must be an object")]),
    ("unknown limit", {}, {"cpu": 1},
     [("limits.cpu", "unknown limit; known: instructions, memory_bytes, deadline_ms, max_depth, "
                     "max_requests, max_pixels, max_logs, max_log_bytes, max_body_bytes, "
                     "max_output_bytes")]),
    ("limit not a positive int", {}, {"instructions": 0, "max_logs": True, "max_depth": 1.5},
     [("limits.instructions", "must be a positive whole number"),
      ("limits.max_logs", "must be a positive whole number"),
      ("limits.max_depth", "must be a positive whole number")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("permissions", "limits", "problems"),
    [pytest.param(p, lim, problems, id=id) for id, p, lim, problems in PROBLEMS],
)
def test_parse_manifest_problems(permissions: Any, limits: Any, problems: list[Any]) -> None:
    assert parse_manifest(permissions, limits)[1] == problems


@pytest.mark.parametrize(
    ("schema", "problems"),
    [
        ({"endpoint": {"type": "string", "format": "url"}, "token": {"type": "secret"}}, []),
        ({}, [("permissions.send_http", "param:endpoint must be a parameter with format 'url'"),
              ("permissions.secrets", "'token' must be a parameter of type 'secret'")]),
        ({"endpoint": {"type": "string"}, "token": {"type": "string"}},
         [("permissions.send_http", "param:endpoint must be a parameter with format 'url'"),
          ("permissions.secrets", "'token' must be a parameter of type 'secret'")]),
    ],
    ids=["matching", "missing", "wrong types"],
)  # fmt: skip
def test_manifest_param_problems(schema: dict[str, Any], problems: list[Any]) -> None:
    manifest, parse_problems = parse_manifest(
        {"send_http": [{"url": "param:endpoint"}], "secrets": ["token"]}
    )
    assert parse_problems == []
    assert manifest_param_problems(manifest, schema) == problems


# --- Properties -----------------------------------------------------------------------

JSON = json_values(
    extra=["any", "https://[::1/", "param:x", "https://*.a.example/*", "data.*"],
    keys=st.sampled_from(["url", "methods", "x"]),
    width=3,
    leaves=15,
)
PERMISSIONS = st.dictionaries(
    st.sampled_from(
        ["read_event_data", "get_cookies", "set_cookies", "send_http", "pixel", "secrets",
         "logging", "other"]
    ),
    JSON,
    max_size=8,
)  # fmt: skip


@settings(max_examples=250, deadline=None)
@given(st.one_of(JSON, PERMISSIONS), st.one_of(JSON, st.dictionaries(st.text(), JSON)))
def test_parse_manifest_never_raises(permissions: Any, limits: Any) -> None:
    manifest, problems = parse_manifest(permissions, limits)
    assert isinstance(manifest, Manifest)
    assert all(isinstance(path, str) and isinstance(reason, str) for path, reason in problems)
    manifest_param_problems(manifest, {})
