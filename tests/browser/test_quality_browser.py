"""A collector on a phone (360 px, touch, DPR 3, Chinese) finds the problems the quality checks
found in their own households from the home page, opens one and writes an explanation (说明)
for the township; nothing scrolls sideways."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app.domain import registration as reg
from app.domain.units import get_or_create_unit
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, Role, UnitLevel
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import TODAY, young_family

pytestmark = pytest.mark.browser

# A township and collector of this test's own: the other browser tests' data does not matter.
TOWNSHIP, VILLAGE = "110101004000", "110101004001"


def test_collector_explains_a_finding_on_a_phone(live_server, browser: Browser, tmp_path):
    base, app = live_server.url, live_server.app
    with app.app_context():
        county = db.session.query(AdminUnit).filter_by(code="110101000000").one()
        township = get_or_create_unit(TOWNSHIP, "北新桥街道", UnitLevel.township, county)
        village = get_or_create_unit(VILLAGE, "九道湾社区", UnitLevel.village, township)
        collector = create_user(None, username="quality_collector", name="秦采集", password=PASSWORD,
                                role=Role.collector, unit=village)
        db.session.commit()
        data = young_family("秦", 41)
        data["members"][1]["boys"] = 0  # her son lives with her: relation 5 fails
        reg.new_household(collector, unit_id=village.id, data=data, today=TODAY)
        db.session.commit()

    context, page = phone_logged_in(browser, base, "quality_collector")
    try:
        page.get_by_test_id("home-quality-mine").tap()
        finding = page.get_by_test_id("finding").filter(has_text="生育男孩0个")
        expect(finding).to_be_visible()
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "1-mine.png"), full_page=True)
        finding.get_by_role("link").tap()
        expect(page.get_by_test_id("finding-message")).to_contain_text("李秀英")
        assert page_width(page) <= PHONE_WIDTH
        box = page.locator("#explanation").bounding_box()
        assert box and box["width"] >= 280 and box["height"] >= 44  # big enough for a thumb
        page.locator("#explanation").tap()
        page.fill("#explanation", "儿子随外婆生活，户口在本户")
        page.get_by_test_id("explain-submit").tap()
        expect(page.get_by_test_id("explanation")).to_contain_text("已说明，等待乡镇审核")
        expect(page.get_by_test_id("explanation-text")).to_have_text("儿子随外婆生活，户口在本户")
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "2-explained.png"), full_page=True)
    finally:
        context.close()
