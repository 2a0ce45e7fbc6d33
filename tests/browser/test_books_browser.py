"""The clerk's print screens in Chromium at 360 px, in Chinese: villages, books, a print job
that the queue runs (immediately in tests), and its PDF."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.domain import registration
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, Role, User
from tests.browser.conftest import PHONE_WIDTH, log_in, page_width
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser


def test_clerk_prints_a_village_on_a_phone(live_server, phone: Page, tmp_path):
    base, app = live_server.url, live_server.app
    with app.app_context():
        village = db.session.query(AdminUnit).filter_by(code="110101001001").one()
        collector = db.session.query(User).filter_by(username="zhang").one()
        create_user(None, username="clerk_browser", name="刘文书", password=PASSWORD, role=Role.clerk,
                    unit=village.parent)
        registration.new_household(collector, unit_id=village.id, data=family(surname="欧阳", seq=41), today=TODAY)
        db.session.commit()
        village_name = village.name

    log_in(phone, base, "clerk_browser")
    phone.get_by_test_id("print-books").click()
    expect(phone.get_by_test_id("villages")).to_contain_text(village_name)
    assert page_width(phone) <= PHONE_WIDTH
    phone.get_by_test_id("villages").get_by_role("link", name=village_name).click()
    expect(phone.get_by_test_id("unslotted")).to_be_visible()
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(tmp_path / "village-360.png"), full_page=True)

    phone.get_by_test_id("print-village").click()
    expect(phone.get_by_test_id("job-state")).to_contain_text("已完成")
    assert page_width(phone) <= PHONE_WIDTH
    link = phone.get_by_test_id("files").get_by_role("link")
    expect(link).to_contain_text(f"{village_name}-第1册.pdf")
    pdf = phone.request.get(base + link.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    # Back to the village page (the crumbs): the book is listed with its card numbers.
    phone.get_by_role("link", name=village_name, exact=True).click()
    row = phone.get_by_test_id("book-1")
    expect(row).to_contain_text("0001")
    assert page_width(phone) <= PHONE_WIDTH
