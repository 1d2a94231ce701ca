"""A real headless Chromium for the browser checks (test_views.py): find it, launch it, collect console errors.

The browser is Debian's ``chromium`` package (``make test`` installs it when missing, see the Makefile's ``browser``
target), driven by Playwright without Playwright's own browser download, which an offline machine cannot fetch.
A missing browser fails the checks with the command that installs it: skipping them would hide it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page

#: Names Chromium goes by on PATH: Debian's package, and Ubuntu's older one.
CHROMIUM_NAMES = ("chromium", "chromium-browser")

#: ``--no-sandbox``: Chromium refuses to run as root with its sandbox (CI runs as root). The rest keeps a headless
#: run quiet and offline: no GPU process, /tmp rather than a small /dev/shm, no update or sync traffic.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

_NOT_FOUND = "Failed to load resource: the server responded with a status of 404"

#: Same-origin paths whose 404 the console shows through no fault of what we check, each with its cause. Nothing
#: else is forgiven. None of them comes from the closed network: with every page below, no request leaves
#: 127.0.0.1 (test_views checks that too), so there is no blocked font, analytics or update call to excuse.
KNOWN_404S = {
    # Chromium asks every page for /favicon.ico unless it names another icon: the health report and the dbt docs
    # name none; the Prefect UI names /favicon.ico but ships its icons under /ico/ only.
    "/favicon.ico": "the browser's own icon request",
    # dbt docs' project tree uses src= rather than ng-src= for its icons, so the browser fetches the Angular
    # expression once before Angular has rendered it (the icons then load under their real names).
    "/{{ getIcon(item.type, 'on') }}": "dbt docs' unrendered icon expression",
    "/{{ getIcon(item.type, 'off') }}": "dbt docs' unrendered icon expression",
    # dbt docs' index.html links a favicon through a bundler expression its build never expanded.
    "/${require('./assets/favicons/favicon.ico')}": "dbt docs' unexpanded favicon link",
}


def chromium_path() -> str:
    """Chromium's path, or a failure that says how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "the browser checks need Chromium and none is on PATH: run `make browser` (as root it installs Debian's "
        "package: apt-get install chromium), or install Chromium yourself",
        pytrace=False,
    )


@dataclass
class PageWatch:
    """What a page reported while it was looked at: console errors, uncaught exceptions and every request."""

    origin: str
    errors: list[str] = field(default_factory=list)
    forgiven: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> PageWatch:
        """Start listening on ``page``."""
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("request", lambda request: self.requests.append(request.url))
        return self

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        parts = urlsplit(url)
        same_origin = f"{parts.scheme}://{parts.netloc}" == self.origin
        if message.text.startswith(_NOT_FOUND) and same_origin and unquote(parts.path) in KNOWN_404S:
            self.forgiven.append(f"{unquote(parts.path)}: {KNOWN_404S[unquote(parts.path)]}")
            return
        self.errors.append(f"console error: {message.text} ({url})")

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught exception: {error.name}: {error.message}")

    def external_requests(self) -> list[str]:
        """Requests that left loopback (``data:`` and ``blob:`` URLs never leave the page)."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in ("127.0.0.1", "localhost")
        ]

    def assert_clean(self) -> None:
        """No console error or uncaught exception but the known ones, and nothing fetched from outside."""
        assert self.errors == [], "\n".join(self.errors)
        assert self.external_requests() == [], "the page needs the internet: " + ", ".join(self.external_requests())


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save ``test-output/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small: was anything drawn?"
    return path
