"""A township verifier decides a duplicate candidate on a phone (360 px, touch, Chinese): the
menu's link to the list, the candidate side by side, "the same person" with a note, and the
answer that the other record was cancelled by a new draft version."""
from __future__ import annotations

import copy
import uuid

import pytest
from playwright.sync_api import Browser, expect

from app.domain import duplicates, registration
from app.domain.units import get_or_create_unit
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, DuplicateCandidate, Person, Role, UnitLevel, User
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import family

pytestmark = pytest.mark.browser

# A township of this test's own: the other browser tests' data does not matter.
TOWNSHIP, VILLAGE_A, VILLAGE_B = "110101005000", "110101005001", "110101005002"


def test_verifier_decides_a_duplicate_on_a_phone(live_server, browser: Browser):
    base, app = live_server.url, live_server.app
    with app.app_context():
        county = db.session.query(AdminUnit).filter_by(code="110101000000").one()
        township = get_or_create_unit(TOWNSHIP, "北新桥街道", UnitLevel.township, county)
        villages = [get_or_create_unit(code, name, UnitLevel.village, township)
                    for code, name in ((VILLAGE_A, "民安社区"), (VILLAGE_B, "九道湾社区"))]
        create_user(None, username="dup_verifier", name="何审核", password=PASSWORD, role=Role.verifier,
                    unit=township)
        first, second = family(surname="郭", seq=31), family(surname="罗", seq=32)
        copied = {**copy.deepcopy(first["members"][2]), "person_id": str(uuid.uuid4()), "relationship": "99"}
        second["members"].append(copied)
        for n, (village, data) in enumerate(zip(villages, (first, second), strict=True)):
            maker = create_user(None, username=f"dup_collector{n}", name="采集员", password=PASSWORD,
                                role=Role.collector, unit=village)
            registration.new_household(maker, unit_id=village.id, data=data)
        verifier = db.session.query(User).filter_by(username="dup_verifier").one()
        duplicates.run_duplicates(verifier, unit_id=township.id)
        db.session.commit()
        candidate_id = db.session.query(DuplicateCandidate.id).filter(
            DuplicateCandidate.unit_path.like(f"{township.path}%")).scalar()

    context, page = phone_logged_in(browser, base, "dup_verifier")
    try:
        page.get_by_test_id("nav-duplicates").tap()
        expect(page.get_by_test_id("candidates")).to_contain_text("郭伟")
        assert page_width(page) <= PHONE_WIDTH
        page.get_by_test_id(f"candidate-{candidate_id}").locator("a").tap()
        expect(page.get_by_test_id("reasons")).to_contain_text("身份证号相同")
        expect(page.get_by_test_id("persons")).to_contain_text("民安社区")
        expect(page.get_by_test_id("persons")).to_contain_text("九道湾社区")
        assert page_width(page) <= PHONE_WIDTH
        page.fill("#note-same-1", "同一人，罗家重复登记")
        page.get_by_test_id("keep-1").tap()
        expect(page.locator(".flash-success")).to_contain_text("已判定：是同一人")
        expect(page.get_by_test_id("candidate-state")).to_contain_text("是同一人")
        assert page_width(page) <= PHONE_WIDTH
    finally:
        context.close()
    with app.app_context():
        # "keep-1" keeps the first record of the pair (the left one: the smaller id as text).
        kept, cancelled = sorted((first["members"][2]["person_id"], copied["person_id"]))
        assert db.session.get(Person, uuid.UUID(cancelled)).status == "duplicate"
        assert db.session.get(Person, uuid.UUID(kept)).status == "active"
        assert db.session.get(DuplicateCandidate, candidate_id).note == "同一人，罗家重复登记"
