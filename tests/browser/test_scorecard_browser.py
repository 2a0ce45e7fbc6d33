"""The scorecard on a phone (360 px, touch, Chinese): a village leader opens the acceptance
figures from the menu, sees each figure with its formula without sideways scrolling, writes the
application for acceptance and sends it; the township verifier sees it and runs the acceptance,
which is refused automatically with the failing figures named."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app.domain.units import get_or_create_unit
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, Role, UnitLevel, VillageAcceptance
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# A township and village of this test's own: the other browser tests' data does not matter.
TOWNSHIP, VILLAGE = "110101004000", "110101004001"


def test_leader_applies_and_verifier_runs_the_acceptance_on_a_phone(live_server, browser: Browser, tmp_path):
    base, app = live_server.url, live_server.app
    with app.app_context():
        county = db.session.query(AdminUnit).filter_by(code="110101000000").one()
        township = get_or_create_unit(TOWNSHIP, "北新桥街道", UnitLevel.township, county)
        village = get_or_create_unit(VILLAGE, "民安社区", UnitLevel.village, township)
        create_user(None, username="sc_leader", name="周村长", password=PASSWORD, role=Role.village_leader,
                    unit=village)
        create_user(None, username="sc_verifier", name="吴审核", password=PASSWORD, role=Role.verifier,
                    unit=township)
        db.session.commit()
        village_id = village.id

    context, page = phone_logged_in(browser, base, "sc_leader")
    try:
        page.get_by_test_id("nav-scorecard").tap()
        expect(page.get_by_test_id("figure-logic_error_rate")).to_contain_text("逻辑关系误差率")
        expect(page.get_by_test_id("formula-logic_error_rate")).to_contain_text("÷ (已婚育龄妇女数 × 10)")
        expect(page.get_by_test_id("formula-entry_rate")).to_contain_text("应采集户数")
        assert page_width(page) <= PHONE_WIDTH
        page.fill("#application", "民安社区已完成入户采集，申请验收。")
        apply = page.get_by_test_id("apply")
        apply.scroll_into_view_if_needed()
        box = apply.bounding_box()
        assert box and box["height"] >= 44 and box["x"] + box["width"] <= PHONE_WIDTH
        apply.tap()
        expect(page.get_by_test_id("history")).to_contain_text("已申请，待乡镇验收")
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "leader-360.png"), full_page=True)
    finally:
        context.close()

    context, page = phone_logged_in(browser, base, "sc_verifier")
    try:
        page.goto(f"{base}/quality/scorecard/{village_id}")
        expect(page.get_by_test_id("decide-form")).to_be_visible()
        assert page_width(page) <= PHONE_WIDTH
        page.get_by_test_id("decide").tap()
        expect(page.get_by_test_id("history")).to_contain_text("入户率：未填应采集户数")
        assert page_width(page) <= PHONE_WIDTH
        page.goto(f"{base}/quality/scorecard/{live_server_township(app)}")
        expect(page.get_by_test_id(f"state-{VILLAGE}")).to_contain_text("未通过")
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "township-360.png"), full_page=True)
    finally:
        context.close()
    with app.app_context():
        assert db.session.query(VillageAcceptance).filter_by(village_id=village_id).one().state == "refused"


def live_server_township(app) -> int:
    with app.app_context():
        return db.session.query(AdminUnit).filter_by(code=TOWNSHIP).one().id
