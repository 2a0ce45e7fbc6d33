"""The page shell on a 360 px phone: login, header, navigation, language, logout."""
from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect

from app.domain.scope import role_label
from tests.browser.conftest import PHONE_WIDTH, log_in, page_width

pytestmark = pytest.mark.browser

MIN_TOUCH_HEIGHT = 40  # px; app.css aims at 44


def translated(app, locale: str, text: str) -> str:
    """`text` as the app shows it in `locale` (from the compiled catalog)."""
    with app.test_request_context(), force_locale(locale):
        return _(text)


def label(app, locale: str, role: str) -> str:
    with app.test_request_context(), force_locale(locale):
        return role_label(role)






def test_login_home_language_logout_on_a_phone(live_server, phone: Page, tmp_path):
    base, app = live_server.url, live_server.app
    me = live_server.users["zhang"]
    log_out_zh = translated(app, "zh_CN", "Log out")
    assert log_out_zh != "Log out", "the Chinese catalog is not compiled or lacks 'Log out'"

    # The login page, in Chinese, fits the phone.
    phone.goto(f"{base}/login")
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(phone.locator("h1")).to_have_text(translated(app, "zh_CN", "Log in"))
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(tmp_path / "login-360.png"), full_page=True)

    # Logging in through the real form lands on the home page; the header says who and where.
    log_in(phone, base, "zhang")
    who = phone.get_by_test_id("who")
    expect(who).to_contain_text(me["name"])
    expect(who).to_contain_text(label(app, "zh_CN", me["role"]))
    expect(who).to_contain_text(me["unit"])
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(tmp_path / "home-360.png"), full_page=True)

    # Every link and button in the navigation and the footer is big enough for a finger.
    targets = phone.locator("nav.nav a, nav.nav button, footer button")
    assert targets.count() >= 5  # home, units, log out, two languages
    for i in range(targets.count()):
        box = targets.nth(i).bounding_box()
        assert box is not None and box["height"] >= MIN_TOUCH_HEIGHT, (targets.nth(i).inner_text(), box)

    # English through the footer: the page language and the texts change; the header stays.
    phone.get_by_role("button", name="English").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("nav.nav button[type=submit]")).to_have_text("Log out")
    expect(who).to_contain_text(me["name"])
    expect(who).to_contain_text(label(app, "en", me["role"]))
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(tmp_path / "home-360-en.png"), full_page=True)

    # Back to Chinese, then log out: the login page again, and home needs a login.
    phone.get_by_role("button", name="中文").click()
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    phone.get_by_role("button", name=log_out_zh).click()
    phone.wait_for_url(f"{base}/login")
    phone.goto(f"{base}/")
    assert phone.url.startswith(f"{base}/login")
    expect(phone.locator("#username")).to_be_visible()
