"""Issue 7's browser test on a 360 px phone in real Chromium: the collector records a birth and a
death in a household through the life-event screens; the household's history shows both, newest
first, with readable diffs in Chinese, and the kind filter keeps one of them; the village leader
finds both in the month's change list."""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser

VILLAGE = "110101001001"
USERNAME, LEADER = "hist_collector", "hist_leader"




@pytest.fixture
def household(live_server):
    """A collector and a village leader of their own, and a new family of four in the village
    (张建国, 李秀英, 张伟, 张丽)."""
    from app.domain import registration
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User

    with live_server.app.app_context():
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == VILLAGE))
        collector = db.session.scalar(select(User).where(User.username == USERNAME))
        if collector is None:
            collector = create_user(None, username=USERNAME, name="孙采集", password=PASSWORD,
                                    role=Role.collector, unit=village)
            create_user(None, username=LEADER, name="周村长", password=PASSWORD, role=Role.village_leader,
                        unit=village)
        h = registration.new_household(collector, unit_id=village.id, data=family("张", seq=61),
                                       today=TODAY).household
        db.session.commit()
        return str(h.id), h.card_no, registration.today()


def record_event(page: Page, kind: str, fill) -> None:
    page.get_by_test_id("events").locator("summary").click()
    page.get_by_test_id(f"event-{kind}").click()
    page.wait_for_url(re.compile(rf".*/events/{kind}$"))
    assert page_width(page) <= PHONE_WIDTH
    fill(page)
    page.get_by_test_id("record").click()
    page.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))


def test_birth_and_death_show_in_the_history(browser: Browser, live_server, household):
    household_id, card_no, today = household
    shots = Path(os.environ.get("HISTORY_SHOTS", "/tmp/history_shots"))
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context, phone = phone_logged_in(browser, base, USERNAME, timeout_ms=10_000)
    born, died = today - dt.timedelta(days=6), today - dt.timedelta(days=2)
    try:
        phone.goto(f"{base}/collect/households/{household_id}")

        def birth(page: Page) -> None:
            page.fill("#occurred_on", born.isoformat())
            page.fill("#name", "张小宝")
            page.select_option("#sex", "1")
            page.select_option("#mother", label="李秀英")
            page.screenshot(path=str(shots / "1-birth-form.png"), full_page=True)
        record_event(phone, "birth", birth)

        def death(page: Page) -> None:
            page.fill("#occurred_on", died.isoformat())
            page.select_option("#person_id", label="张丽")
            page.select_option("#cause", "illness")
            page.select_option("#source", "family")
        record_event(phone, "death", death)

        # The household page sums up the latest changes and links to the whole history.
        recent = phone.get_by_test_id("recent-change")
        expect(recent).to_have_count(3)
        expect(recent.first).to_have_attribute("data-kind", "death")
        phone.get_by_test_id("history-link").click()
        phone.wait_for_url(re.compile(r".*/history/households/[0-9a-f-]{36}$"))

        entries = phone.get_by_test_id("entry")
        expect(entries).to_have_count(3)
        death_entry, birth_entry, created = entries.nth(0), entries.nth(1), entries.nth(2)
        expect(death_entry).to_have_attribute("data-kind", "death")
        expect(birth_entry).to_have_attribute("data-kind", "birth")
        expect(created).to_have_attribute("data-kind", "create")
        # The death: when it happened, who recorded it, its state, and 张丽's status 正常 → 死亡.
        expect(death_entry.get_by_test_id("entry-occurred")).to_contain_text(died.isoformat())
        expect(death_entry).to_contain_text("孙采集")
        expect(death_entry.get_by_test_id("entry-state")).to_have_text("草稿")
        cancelled = death_entry.locator("[data-testid=diff-members] > li[data-kind=cancelled]")
        expect(cancelled).to_have_count(1)
        expect(cancelled).to_contain_text("张丽")
        expect(cancelled).to_contain_text("人员状态")
        expect(cancelled).to_contain_text("人员状态: 正常 → 死亡")
        # The birth: the child added.
        expect(birth_entry.get_by_test_id("entry-occurred")).to_contain_text(born.isoformat())
        added = birth_entry.locator("[data-testid=diff-members] > li[data-kind=added]")
        expect(added).to_have_count(1)
        expect(added).to_contain_text("张小宝")
        assert page_width(phone) <= PHONE_WIDTH
        phone.screenshot(path=str(shots / "2-history.png"), full_page=True)

        # The filter keeps the births only.
        phone.select_option("#kind", "birth")
        phone.get_by_test_id("kind-filter").locator("button").click()
        phone.wait_for_url(re.compile(r".*\?kind=birth$"))
        expect(phone.get_by_test_id("entry")).to_have_count(1)
        expect(phone.get_by_test_id("entry")).to_contain_text("张小宝")
        assert page_width(phone) <= PHONE_WIDTH

        # The child's own history, from the link on its name.
        phone.get_by_role("link", name="张小宝").click()
        phone.wait_for_url(re.compile(r".*/history/persons/[0-9a-f-]{36}$"))
        expect(phone.get_by_test_id("step")).to_have_count(1)
        expect(phone.get_by_test_id("step")).to_have_attribute("data-kind", "birth")
        assert page_width(phone) <= PHONE_WIDTH
        phone.screenshot(path=str(shots / "3-person.png"), full_page=True)
    finally:
        context.close()

    # The village leader: from the queue to the month's changes, each event in its month.
    context, leader = phone_logged_in(browser, base, LEADER, timeout_ms=10_000)
    try:
        leader.goto(f"{base}/review/leader")
        leader.get_by_test_id("month-link").click()
        leader.wait_for_url(re.compile(r".*/history/villages/\d+/changes$"))
        village_month = leader.url
        for kind, on in (("birth", born), ("death", died)):
            leader.goto(f"{village_month}?month={on:%Y-%m}")
            change = (leader.locator(f"[data-testid=change][data-kind={kind}]")
                      .filter(has_text=on.isoformat()).filter(has_text=card_no))
            expect(change).to_have_count(1)
            assert page_width(leader) <= PHONE_WIDTH
        expect(leader.get_by_test_id("date-used")).to_be_visible()
        leader.screenshot(path=str(shots / "4-month.png"), full_page=True)
    finally:
        context.close()
