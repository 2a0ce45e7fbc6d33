"""The signature pad as a finger meets it (issue 14): a usable size at 360 px on every page that
has one, the same size after resizes and rotation at a pixel ratio of 3, and touch strokes that
draw instead of scrolling or going back."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from tests.browser.conftest import (PAD_MIN_HEIGHT, PAD_MIN_WIDTH, PHONE_WIDTH, draw_signature,
                                    phone_logged_in)
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser

VILLAGE = "110101001001"
USERNAME = "pad_collector"


@pytest.fixture
def draft(live_server) -> str:
    """A draft household of a collector of its own."""
    from app.domain import registration
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User

    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.username == USERNAME))
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == VILLAGE))
        if user is None:
            user = create_user(None, username=USERNAME, name="潘采集", password=PASSWORD, role=Role.collector,
                               unit=village)
        h = registration.new_household(user, unit_id=village.id, data=family("潘", seq=91), today=TODAY).household
        db.session.commit()
        return str(h.id)


def pad_size(page: Page, scope: str) -> dict:
    """The canvas's CSS box, its bitmap and the pad's own width."""
    return page.locator(f"[data-testid={scope}] [data-signature-pad]").evaluate(
        """pad => { const c = pad.querySelector("canvas"), r = c.getBoundingClientRect();
                    return {w: r.width, h: r.height, bw: c.width, bh: c.height, pad: pad.clientWidth}; }""")


def assert_sharp_and_fitting(size: dict) -> None:
    assert size["w"] >= PAD_MIN_WIDTH and size["h"] >= PAD_MIN_HEIGHT, size
    assert abs(size["w"] - size["pad"]) <= 1, size  # as wide as its pad, not as its bitmap
    assert size["bw"] == round(size["w"] * 3) and size["bh"] == round(size["h"] * 3), size


def rotate_and_back(page: Page, scope: str) -> None:
    """Portrait → landscape → portrait, and a few more resize events: the pad follows its
    container and comes back to the same size; it never grows on its own."""
    first = pad_size(page, scope)
    assert_sharp_and_fitting(first)
    page.set_viewport_size({"width": 740, "height": 360})
    page.wait_for_function(f"""() => document.querySelector('[data-testid={scope}] canvas')
                                    .getBoundingClientRect().width > {first['w'] + 50}""")
    turned = pad_size(page, scope)
    assert_sharp_and_fitting(turned)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
    page.wait_for_function(f"""() => document.querySelector('[data-testid={scope}] canvas')
                                    .getBoundingClientRect().width < {turned['w']}""")
    for _ in range(5):
        page.evaluate("dispatchEvent(new Event('resize'))")
    page.wait_for_timeout(100)
    assert pad_size(page, scope) == first


def test_the_household_page_pad_keeps_its_size_and_takes_a_finger(live_server, browser: Browser, draft):
    context, page = phone_logged_in(browser, live_server.url, USERNAME)
    try:
        page.goto(f"{live_server.url}/collect/households/{draft}")
        page.get_by_test_id("submit-form").scroll_into_view_if_needed()
        rotate_and_back(page, "submit-form")
        draw_signature(page, "submit-form")
        assert page.locator("[data-testid=submit-form] input[name=strokes]").input_value().startswith("[[")
    finally:
        context.close()


def test_the_forms_last_step_pad_can_be_signed_by_finger(live_server, browser: Browser, draft):
    """The form's "check and save" step, the only place to sign offline: its pad is hidden
    until that step is shown, and must then have a finger's size."""
    context, page = phone_logged_in(browser, live_server.url, USERNAME)
    try:
        page.goto(f"{live_server.url}/collect/")  # the phone syncs: the form's offline part is set up
        expect(page.get_by_test_id("status-bar")).to_have_attribute("data-ready", "1")
        page.goto(f"{live_server.url}/collect/households/{draft}/edit")
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        page.get_by_test_id("nav-summary").tap()
        expect(page.locator("[data-testid=summary] [data-signature-pad] canvas")).to_be_visible()
        rotate_and_back(page, "summary")
        draw_signature(page, "summary")  # asserts the strokes drew and the page stayed put
    finally:
        context.close()
