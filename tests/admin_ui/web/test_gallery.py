"""The template gallery lists every shipped template with its consent floor, permissions
and parameters, and shows its source."""

from __future__ import annotations

import pytest

from admin_ui.web.gallery import describe_template
from tags.package import SHIPPED, shipped_template
from tests.admin_ui.web.helpers import add_user, browser, sign_in


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "tagwire.db"
    add_user(path, "val@agency.example")  # no client at all: the gallery holds no client data
    return path


def test_the_gallery_lists_every_shipped_template(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get("/admin/templates").text
    for name in SHIPPED:
        assert f'href="/admin/templates/{name}"' in page
    assert "https://graph.facebook.com/v*" in page


def test_a_template_page_shows_its_floor_permissions_parameters_and_source(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get("/admin/templates/meta").text
        missing = client.get("/admin/templates/nope")
    meta = shipped_template("meta")
    assert all(f'<span class="pill">{c}</span>' in page for c in meta.consent)
    assert "<code>pixel_id</code>" in page
    assert "Conversions API access token" in page
    assert "send_http" in page  # the Lua source, escaped inside <pre>
    assert missing.status_code == 404


def test_a_url_parameter_grant_names_the_parameter():
    described = describe_template(shipped_template("webhook"))
    assert described["sends"] == [{"to": "the url parameter", "methods": "POST"}]
    assert described["consent"] == []
