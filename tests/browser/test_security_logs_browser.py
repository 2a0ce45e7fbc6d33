"""The security officer's log search on a 360 px phone, in Chinese: filter, read, page on."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app import access_log
from app.extensions import db
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in

pytestmark = pytest.mark.browser


def test_the_officer_searches_the_access_log_on_a_phone(live_server, browser: Browser):
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User
    from sqlalchemy import select

    app = live_server.app
    with app.app_context():
        if db.session.scalar(select(User).where(User.username == "anquan")) is None:
            county = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "110101000000"))
            create_user(None, username="anquan", name="安全员", password="correct horse battery",
                        role=Role.county_admin, unit=county)
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "110101001001"))
        # A collector of its own: the other browser tests' views are in the same log.
        zhang = db.session.scalar(select(User).where(User.username == "log_subject"))
        if zhang is None:
            zhang = create_user(None, username="log_subject", name="周记录", password="correct horse battery",
                                role=Role.collector, unit=village)
        log = access_log.current()
        for n in range(35):
            log.add(actor_id=zhang.id, endpoint="collect.household", object_type="household",
                    object_id=f"00000000-0000-0000-0000-{n:012d}", unit_path=village.path, address="10.1.2.3")
        db.session.commit()
        log.flush()
    context, page = phone_logged_in(browser, live_server.url, "anquan")
    try:
        page.locator('[data-testid="security-logs"]').tap()
        page.fill("#user", "log_subject")
        page.locator('[data-testid="log-search"] button[type=submit]').tap()
        expect(page.locator('[data-testid="log-count"]')).to_have_text("找到记录：35 条")
        assert page.locator('[data-testid="log-row"]').count() == 30
        assert page_width(page) <= PHONE_WIDTH
        page.locator("a[href*='page=2']").tap()
        expect(page.locator('[data-testid="log-row"]')).to_have_count(5)
        assert "10.1.2.3" in page.content() and page_width(page) <= PHONE_WIDTH
    finally:
        context.close()
