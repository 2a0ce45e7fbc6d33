"""Security headers at work in a real Chromium on a 360 px touch phone (issue 15, item 9): the
Content-Security-Policy blocks a script or a style attribute slipped into a page; the service
worker keeps the collector's pages although they are sent "no-store"; logging out clears what
the phone keeps offline (the pages, the households, the drafts) but not the outbox of unsent
submissions, and says first what would be lost or left."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import log_in, phone_logged_in
from tests.browser.test_collect_browser import translated

pytestmark = pytest.mark.browser

# The stores of the phone's IndexedDB (static/pwa/store.js), counted.
COUNT_JS = """async (userId) => {
    const db = await new Promise((ok, no) => { const r = indexedDB.open('doorstep-' + userId);
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    const count = (name) => new Promise((ok) => {
        const r = db.transaction(name).objectStore(name).count(); r.onsuccess = () => ok(r.result); });
    const counts = {};
    for (const name of ['households', 'drafts', 'outbox', 'meta']) counts[name] = await count(name);
    db.close();
    return counts;
}"""

PUT_JS = """async ([userId, store, value]) => {
    const db = await new Promise((ok, no) => { const r = indexedDB.open('doorstep-' + userId);
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    await new Promise((ok, no) => { const tx = db.transaction(store, 'readwrite');
        tx.objectStore(store).put(value); tx.oncomplete = ok; tx.onerror = () => no(tx.error); });
    db.close();
}"""


def test_the_policy_blocks_a_script_and_a_style_slipped_into_a_page(live_server, browser: Browser):
    context, page = phone_logged_in(browser, live_server.url, "zhang")
    try:
        page.goto(f"{live_server.url}/collect/")
        blocked = page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.__injected = 1';
            document.body.append(s);
            const h = document.querySelector('h1');
            h.setAttribute('style', 'color: rgb(1, 2, 3)');
            return {ran: window.__injected === 1, color: getComputedStyle(h).color};
        }""")
        assert blocked["ran"] is False, "an inline script ran"
        assert blocked["color"] != "rgb(1, 2, 3)", "a style attribute was applied"
        # A script of our own sets a style through the CSSOM, which the policy allows.
        assert page.evaluate("""() => { const h = document.querySelector('h1');
            h.removeAttribute('style'); h.style.color = 'rgb(4, 5, 6)';
            return getComputedStyle(h).color; }""") == "rgb(4, 5, 6)"
        page.wait_for_timeout(200)  # the violation reports reach the test
        directives = {v["directive"] for v in browser.violations}
        assert {"script-src-elem", "style-src-attr"} <= directives, browser.violations
    finally:
        browser.violations.clear()  # expected here; any other page must cause none (conftest)
        context.close()


def test_a_page_cannot_be_framed_by_another_site(live_server, browser: Browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        # Another origin (the same server by another name) tries to frame the login page.
        other = live_server.url.replace("127.0.0.1", "localhost")
        page.goto(f"{other}/static/app.css")
        page.set_content(f'<iframe src="{live_server.url}/login"></iframe>')
        page.wait_for_timeout(1000)
        frame = page.frames[1] if len(page.frames) > 1 else None
        assert frame is None or frame.url in ("about:blank", "chrome-error://chromewebdata/") \
            or not frame.locator("#username").count(), "the login page showed inside another site"
    finally:
        browser.violations.clear()  # frame-ancestors reports on the framing page
        context.close()


def _user_id(page: Page) -> str:
    return page.get_by_test_id("status-bar").get_attribute("data-user")


def test_logout_clears_the_offline_data_but_keeps_the_outbox(live_server, browser: Browser):
    base, app = live_server.url, live_server.app
    context, page = phone_logged_in(browser, base, "zhang")
    try:
        page.goto(f"{base}/collect/")
        bar = page.get_by_test_id("status-bar")
        expect(bar).to_have_attribute("data-ready", "1")
        user = _user_id(page)
        # Synced: the worker keeps the collector's pages, although they were sent "no-store"
        # (the Cache API does not follow Cache-Control), and the households are on the phone.
        kept = page.evaluate("""async () => {
            const cache = await caches.open('doorstep-pages');
            const hit = await cache.match(location.origin + '/collect/');
            return hit ? hit.headers.get('Cache-Control') : null; }""")
        assert kept == "no-store"
        counts = page.evaluate(COUNT_JS, user)
        assert counts["meta"] > 0
        # A draft typed and not signed, and a submission the server refused (it stays in the
        # outbox for the collector to correct): neither is sent by the sync before logging out.
        page.evaluate(PUT_JS, [user, "drafts", {"household_id": "d0000000-0000-4000-8000-000000000001",
                                                "data": {"household": {"door_no": "草稿1号"}, "members": []},
                                                "updated_at": "2026-01-01T00:00:00Z"}])
        page.evaluate(PUT_JS, [user, "outbox", {"submission_id": "a0000000-0000-4000-8000-000000000001",
                                                "household_id": "d0000000-0000-4000-8000-000000000002",
                                                "status": "attention", "reason": "invalid", "message": "x",
                                                "data": {"household": {}, "members": []},
                                                "created_at": "2026-01-01T00:00:00Z"}])
        page.reload()
        expect(bar).to_have_attribute("data-ready", "1")
        logout = page.locator("form[action$='/logout'] button")

        # First the phone says what would be lost or left; cancelled, nothing changes.
        said: list[str] = []
        page.once("dialog", lambda d: (said.append(d.message), d.dismiss()))
        logout.click()
        page.wait_for_timeout(1000)
        assert page.url == f"{base}/collect/"
        [message] = said
        assert translated(app, "zh_CN", "Log out anyway?") in message
        assert "1" in message and "本手机" in message
        assert page.evaluate(COUNT_JS, user)["drafts"] == 1
        assert page.evaluate("caches.has('doorstep-pages')")

        # Confirmed: logged out, and the phone keeps only the outbox.
        page.once("dialog", lambda d: d.accept())
        logout.click()
        page.wait_for_url(f"{base}/login")
        assert not page.evaluate("caches.has('doorstep-pages')")
        after = page.evaluate(COUNT_JS, user)
        assert after == {"households": 0, "drafts": 0, "outbox": 1, "meta": 0}, after
        # Offline, the collector's list is not served from anywhere any more.
        context.set_offline(True)
        with pytest.raises(PlaywrightError, match="ERR_FAILED|ERR_INTERNET_DISCONNECTED"):
            page.goto(f"{base}/collect/")
        context.set_offline(False)

        # The next login shows the refused submission again and fetches the households anew.
        log_in(page, base, "zhang")
        page.goto(f"{base}/collect/")
        expect(bar).to_have_attribute("data-ready", "1")
        expect(bar).to_have_attribute("data-attention", "1")
        assert page.evaluate(COUNT_JS, user)["meta"] > 0
    finally:
        context.close()


def test_logout_with_nothing_unsent_asks_nothing(live_server, browser: Browser):
    base = live_server.url
    context, page = phone_logged_in(browser, base, "zhang")
    try:
        page.goto(f"{base}/collect/")
        expect(page.get_by_test_id("status-bar")).to_have_attribute("data-ready", "1")
        user = _user_id(page)
        asked: list[str] = []
        page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.locator("form[action$='/logout'] button").click()
        page.wait_for_url(f"{base}/login")
        assert asked == []
        assert page.evaluate(COUNT_JS, user) == {"households": 0, "drafts": 0, "outbox": 0, "meta": 0}
    finally:
        context.close()
