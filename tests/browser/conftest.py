"""Browser tests: the real app on a real HTTP server, driven by Debian's headless Chromium.

- One SQLite database for the whole browser session, migrated to head, with a few units and
  users made through the domain functions (PostgreSQL is covered by the other tests).
- The app is served by werkzeug's `make_server` on 127.0.0.1 and a free port, in a thread.
- Chromium is Debian's /usr/bin/chromium, launched by Playwright (the pip package is used only
  for its driver; `playwright install` cannot download browsers here). Missing: skipped,
  except when CI=true, where it fails.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.conftest import PASSWORD, base_config, migrate_to_head

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach outside hosts,
# which a machine without outside network refuses, many times a second.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE_WIDTH = 360
PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 740}, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}


@dataclass
class LiveServer:
    url: str
    app: Flask
    users: dict[str, dict[str, str]]  # username -> {"name", "role", "unit"} as shown in the header


def _seed() -> dict[str, dict[str, str]]:
    """Units and users for the browser tests, made the way the app makes them."""
    from app.domain.units import get_or_create_unit as add
    from app.domain.users import create_user
    from app.models import Role
    from app.models import UnitLevel as L

    p = add("110000000000", "北京市", L.province, None)
    c = add("110100000000", "市辖区", L.city, p)
    county = add("110101000000", "东城区", L.county, c)
    t1 = add("110101001000", "东华门街道", L.township, county)
    village = add("110101001001", "多福巷社区", L.village, t1)
    create_user(None, username="zhang", name="张秀英", password=PASSWORD, role=Role.collector, unit=village)
    db.session.commit()
    return {"zhang": {"name": "张秀英", "role": "collector", "unit": "多福巷社区"}}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("browser") / "doorstep.sqlite"
    uri = f"sqlite:///{path}"
    migrate_to_head(uri)
    app = create_app(base_config(uri))
    server = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: the system picks a free one
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    with app.app_context():
        users = _seed()
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=url, app=app, users=users)
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (Debian package chromium; scripts/install.sh installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {message}")
        pytest.skip(message)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page in a fresh phone-sized context (360x740, touch, Chinese)."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def page_width(page: Page) -> int:
    """The page's laid-out width: more than the phone's means sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth")


def log_in(page: Page, base: str, username: str) -> None:
    """Log in through the real form; the page ends on the home page."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit].primary")
    page.wait_for_url(f"{base}/")


def phone_logged_in(browser: Browser, base: str, username: str, *, timeout_ms: int = 15_000):
    """A fresh phone-sized context logged in as `username` through the real form:
    (context, page on the home page). The caller closes the context."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    log_in(page, base, username)
    return context, page
