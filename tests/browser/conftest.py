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
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
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
# A phone as the field has them: 360x740 CSS px at three device pixels each, a touch screen.
PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 740}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
# The smallest pad a finger can sign on (issue 14: a 1x1 px pad passed every mouse-drawn test).
PAD_MIN_WIDTH, PAD_MIN_HEIGHT = 280, 110


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


# Every page of every context made by the `browser` fixture reports Content-Security-Policy
# violations (issue 15): our own pages must cause none, so a test that saw one fails at its end.
CSP_LISTENER = """addEventListener("securitypolicyviolation", (e) => {
  if (window.__cspViolation) window.__cspViolation({directive: e.effectiveDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample, page: location.href});
});"""


class CspWatchedBrowser:
    """The Browser, whose new contexts collect CSP violations into `violations`."""

    def __init__(self, browser: Browser):
        self._browser = browser
        self.violations: list[dict] = []

    def __getattr__(self, name: str):
        return getattr(self._browser, name)

    def new_context(self, **kwargs) -> BrowserContext:
        context = self._browser.new_context(**kwargs)
        context.expose_binding("__cspViolation", lambda _source, v: self.violations.append(v))
        context.add_init_script(CSP_LISTENER)
        return context


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    yield
    if "browser" not in request.fixturenames or not os.path.exists(CHROMIUM):
        return  # no browser, or none could start (the test was skipped)
    watched = request.getfixturevalue("browser")
    found, watched.violations[:] = list(watched.violations), []
    assert found == [], f"the Content-Security-Policy blocked something on our own pages: {found}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (Debian package chromium; scripts/install.sh installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {message}")
        pytest.skip(message)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield CspWatchedBrowser(b)  # type: ignore[misc] (a Browser for every use in the tests)
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


def draw_signature(page: Page, scope: str) -> None:
    """Sign as a finger does: two strokes of CDP touch events inside the pad's rendered box, in
    the form or section with the test id `scope`. Asserts first that the pad is big enough for a
    finger, and afterwards that the canvas changed and the page did not scroll or navigate."""
    canvas = page.locator(f"[data-testid={scope}] [data-signature-pad] canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None, "the signature pad is not rendered"
    assert box["width"] >= PAD_MIN_WIDTH and box["height"] >= PAD_MIN_HEIGHT, f"pad too small for a finger: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, f"pad outside the screen: {box}"
    before_url, before_ink = page.url, canvas.evaluate("c => c.toDataURL()")
    before_scroll = page.evaluate("[scrollX, scrollY]")
    cdp = page.context.new_cdp_session(page)
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    try:
        for stroke in [((.1, .3), (.5, .7), (.9, .3)), ((.3, .1), (.35, .5), (.3, .9))]:
            points = []
            for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                points += [(x0 + (x1 - x0) * k / 8, y0 + (y1 - y0) * k / 8) for k in range(8)]
            points.append(stroke[-1])
            first, *rest = points
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                                   "touchPoints": [{"x": x + w * first[0], "y": y + h * first[1]}]})
            for px, py in rest:
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                       "touchPoints": [{"x": x + w * px, "y": y + h * py}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()
    assert page.url == before_url, "a stroke on the pad navigated away"
    assert page.evaluate("[scrollX, scrollY]") == before_scroll, "a stroke on the pad scrolled the page"
    assert canvas.evaluate("c => c.toDataURL()") != before_ink, "the strokes left no ink on the pad"
