"""A checker enters a spot check on a phone (360x740, DPR 3, touch, Chinese): the sampled
woman's main items as recorded, a tap on 对 or 错 per item (targets big enough for a finger),
what was found typed in when wrong, saved, and the next sampled person opens; the check list
page then shows the village's accuracy with its formula. No sideways scrolling on the way."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app.domain import registration, spot_checks
from app.domain.units import get_or_create_unit
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, Role, SpotCheckItem, UnitLevel
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import young_family

pytestmark = pytest.mark.browser

# A township and village of this test's own: the other browser tests' data does not matter.
TOWNSHIP, VILLAGE = "110101004000", "110101004001"


def test_a_checker_enters_a_spot_check_on_a_phone(live_server, browser: Browser, tmp_path):
    base, app = live_server.url, live_server.app
    with app.app_context():
        county = db.session.query(AdminUnit).filter_by(code="110101000000").one()
        township = get_or_create_unit(TOWNSHIP, "北新桥街道", UnitLevel.township, county)
        village = get_or_create_unit(VILLAGE, "民安社区", UnitLevel.village, township)
        collector = create_user(None, username="spot_collector", name="赵采集", password=PASSWORD,
                                role=Role.collector, unit=village)
        create_user(None, username="spot_checker", name="钱核查", password=PASSWORD, role=Role.collector, unit=village)
        verifier = create_user(None, username="spot_verifier", name="孙审核", password=PASSWORD,
                               role=Role.verifier, unit=township)
        for seq in range(1, 9):
            registration.new_household(collector, unit_id=village.id, data=young_family("周", seq=seq))
        check = spot_checks.draw(verifier, village.id, seed="phone", round_="2026", today=registration.today())
        db.session.commit()
        check_id, village_id, total = check.id, village.id, len(check.items)
    assert total == 2  # 8 married women × 15 %, rounded up

    context, page = phone_logged_in(browser, base, "spot_checker")
    try:
        page.goto(f"{base}/spot-checks/{check_id}")
        expect(page.get_by_test_id("sampled")).to_contain_text("李秀英")
        assert page_width(page) <= PHONE_WIDTH
        page.get_by_test_id("item-1").locator("a").tap()
        expect(page.get_by_test_id("entry-form")).to_be_visible()
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "entry-360.png"), full_page=True)

        items = page.locator("fieldset.check-item")
        n = items.count()
        assert n >= 10
        for k in range(n):
            item = items.nth(k)
            path = item.get_attribute("data-testid").removeprefix("check-")
            choice = item.locator("label.choice.wrong" if path == "members[1].girls" else "label.choice.ok")
            choice.scroll_into_view_if_needed()
            box = choice.bounding_box()
            assert box and box["height"] >= 44 and box["width"] >= 100, f"too small for a finger: {box}"
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH
            choice.tap()
        page.get_by_test_id("found-members[1].girls").fill("2")
        page.get_by_test_id("save").tap()

        # Saved: the next sampled person opens.
        page.wait_for_url(f"{base}/spot-checks/{check_id}/items/2")
        expect(page.get_by_test_id("entry-form")).to_be_visible()
        with app.app_context():
            first = db.session.query(SpotCheckItem).filter_by(spot_check_id=check_id, position=1).one()
            assert (first.items_checked, first.items_wrong) == (n, 1)
            assert first.results["members[1].girls"] == {"ok": False, "found": "2"}
            round_ = first.spot_check.round  # the acceptance round the draw was made in
            assert spot_checks.accuracy_by_village([village_id], round_)[village_id] == (n, n - 1)

        page.goto(f"{base}/spot-checks/{check_id}")
        expect(page.get_by_test_id("village-accuracy")).to_contain_text(f"= {n - 1} ÷ {n} =")
        expect(page.get_by_test_id("village-accuracy")).to_contain_text("主要数据项准确率")
        assert page_width(page) <= PHONE_WIDTH
    finally:
        context.close()
