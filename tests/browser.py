"""Real Chromium for the browser tests: where it is, how it is started, what pages did.

The suite drives Debian's Chromium through Playwright and never downloads a browser. A
test module calls `require_chromium()` at import: outside CI a missing Chromium skips the
module with the reason; in CI it is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect, sync_playwright

from demo.accounts import OWNER_FILE

__all__ = [
    "CHROMIUM",
    "Recorder",
    "Visit",
    "hits_of",
    "launch",
    "new_visit",
    "post_body",
    "require_chromium",
    "screenshot",
]


def _find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = _find_chromium()
IN_CI = bool(os.environ.get("CI"))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CSP_MARKERS = ("Content Security Policy", "Refused to")

# Chrome logs CSP violations to the console itself; this listener reports them as well (with
# the directive), so a violation can't slip by as a differently worded message.
VIOLATION_REPORTER = """
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('Content Security Policy violation: ' + e.violatedDirective +
    ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def require_chromium() -> None:
    if CHROMIUM is None and not IN_CI:
        pytest.skip(
            "Chromium not installed (/usr/bin/chromium or `chromium` on PATH); "
            "these tests never download a browser. Install Debian's chromium to run them.",
            allow_module_level=True,
        )


def launch() -> Iterator[Browser]:
    """A headless Chromium for a module-scoped fixture."""
    if CHROMIUM is None:
        pytest.fail("CI is set but Chromium is missing (/usr/bin/chromium or `chromium` on PATH)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Recorder:
    """Everything the pages of one browser context did: requests, console, page errors."""

    requests: list[Request] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def collect_requests(self) -> list[Request]:
        return [r for r in self.requests if urlparse(r.url).path == "/collect"]

    def hits(self) -> list[dict]:
        return [hit for r in self.collect_requests() for hit in hits_of(r)]

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if any(marker in m for marker in CSP_MARKERS)]

    def assert_clean(self) -> None:
        assert self.csp_violations() == [], "CSP violations:\n" + "\n".join(self.console)
        assert self.page_errors == [], "page errors:\n" + "\n".join(self.page_errors)

    def assert_first_party_only(self, base: str) -> None:
        foreign = [
            r.url
            for r in self.requests
            if not r.url.startswith(base + "/") and not r.url.startswith("data:")
        ]
        assert foreign == [], f"requests left the site's origin: {foreign}"


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    rec: Recorder


def new_visit(browser: Browser, *init_scripts: str, **context_options: object) -> Visit:
    """A fresh context (no cookies, no storage) recording every page it opens."""
    context = browser.new_context(**context_options)
    context.add_init_script(VIOLATION_REPORTER)
    for script in init_scripts:
        context.add_init_script(script)
    context.set_default_timeout(10_000)
    rec = Recorder()
    context.on("page", rec.attach)
    return Visit(context, context.new_page(), rec)


SCREENSHOTS = Path(__file__).parents[1] / "build" / "screenshots"


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as build/screenshots/NAME.png, so that a person can look at
    what the browser tests saw (the folder is ignored by git and rewritten every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def post_body(request: Request) -> str:
    return request.post_data or ""


def hits_of(request: Request) -> list[dict]:
    body = json.loads(post_body(request))
    return body if isinstance(body, list) else [body]


def owner_password(data_dir: Path) -> str:
    """The demo owner's password, as the demo wrote it into its data dir."""
    return (data_dir / OWNER_FILE).read_text().strip()


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    """Sign in to the admin UI of the node at `base`, landing on the clients page."""
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(f"{base}/admin/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/admin/clients")
