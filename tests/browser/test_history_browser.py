"""Issue 7's browser test on a 360 px phone in real Chromium: the collector records a birth and a
death in a household through the life-event screens; the household's history shows both, newest
first, with readable diffs in Chinese, and the kind filter keeps one of them; the village leader
finds both in the month's change list, and so does the collector (issue 14); the timeline says
出生 and 死亡, not the stored codes."""
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
        # The timeline names the versions' kinds in words (issue 14), never the stored codes.
        versions = phone.get_by_test_id("version")
        expect(versions.first).to_contain_text("死亡")
        expect(versions.nth(1)).to_contain_text("出生")
        expect(phone.get_by_test_id("history")).not_to_contain_text("death")
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

        # The collector sees the month's changes of their own village too (issue 14).
        phone.go_back()
        phone.get_by_test_id("month-link").click()
        phone.wait_for_url(re.compile(r".*/history/villages/\d+/changes$"))
        phone.goto(f"{phone.url}?month={died:%Y-%m}")
        expect(phone.locator("[data-testid=change][data-kind=death]").filter(has_text=card_no)).to_have_count(1)
        expect(phone.get_by_test_id("own-units-only")).to_be_visible()
        assert page_width(phone) <= PHONE_WIDTH
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


def test_split_and_transfer_name_both_households(browser: Browser, live_server):
    """Issue 14 on a 360 px phone: a household splits off its son and then moves to another
    village of the township. The township verifier reads, in Chinese and without codes, where
    each went: the new household says 分户自 with a link to the old one, the old one names the
    new card and both villages and cards of its transfer; the son's history lists his
    registration first."""
    from app.domain import events, registration
    from app.domain.units import get_or_create_unit
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, UnitLevel, User

    with live_server.app.app_context():
        township = db.session.scalar(select(AdminUnit).where(AdminUnit.code == "110101001000"))
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == VILLAGE))
        other = get_or_create_unit("110101001002", "银闸社区", UnitLevel.village, township)
        collector = db.session.scalar(select(User).where(User.username == "split_collector"))
        if collector is None:
            collector = create_user(None, username="split_collector", name="钱采集", password=PASSWORD,
                                    role=Role.collector, unit=village)
            create_user(None, username="split_leader", name="吴村长", password=PASSWORD,
                        role=Role.village_leader, unit=other)
            create_user(None, username="split_verifier", name="郑审核", password=PASSWORD,
                        role=Role.verifier, unit=township)
        leader = db.session.scalar(select(User).where(User.username == "split_leader"))
        h = registration.new_household(collector, unit_id=village.id, data=family("王", seq=95),
                                       today=TODAY).household
        db.session.commit()
        son = h.current_version.data["members"][2]["person_id"]
        n = events.split(collector, h.id, person_ids=[son], new_head=son, relationships={},
                         occurred_on=TODAY - dt.timedelta(days=20), base_number=h.current_number,
                         today=TODAY).other.household
        db.session.commit()
        old_card, new_card = h.card_no, n.card_no
        transfer = events.request_transfer(collector, h.id, to_unit_id=other.id,
                                           occurred_on=TODAY - dt.timedelta(days=5), today=TODAY)
        db.session.commit()
        events.decide_transfer(leader, transfer.id, accept=True, today=TODAY)
        db.session.commit()
        moved_card, old_id, new_id = h.card_no, str(h.id), str(n.id)

    base = live_server.url
    context, phone = phone_logged_in(browser, base, "split_verifier", timeout_ms=10_000)
    try:
        phone.goto(f"{base}/history/households/{new_id}")
        came = phone.get_by_test_id("entry-split-from")
        expect(came).to_have_text(f"分户自 多福巷社区 · 户卡 {old_card}。")
        expect(phone.get_by_test_id("household-history")).not_to_contain_text("该户首次登记")
        assert page_width(phone) <= PHONE_WIDTH
        came.get_by_role("link").click()
        phone.wait_for_url(f"{base}/history/households/{old_id}")
        expect(phone.get_by_test_id("entry-split-to")).to_have_text(
            f"分出新户：多福巷社区 · 户卡 {new_card}。")
        expect(phone.get_by_test_id("entry-transfer")).to_have_text(
            f"由 多福巷社区 · 户卡 {old_card} 迁至 银闸社区 · 户卡 {moved_card}。")
        assert page_width(phone) <= PHONE_WIDTH
        shots = Path(os.environ.get("HISTORY_SHOTS", "/tmp/history_shots"))
        shots.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(shots / "5-split-transfer.png"), full_page=True)
        # The son's steps, oldest first: registered here, split off, first in the new household.
        phone.get_by_test_id("entry-split-to").locator("..").get_by_role("link", name="王伟").click()
        phone.wait_for_url(re.compile(r".*/history/persons/[0-9a-f-]{36}$"))
        steps = phone.get_by_test_id("step")
        expect(steps).to_have_count(3)
        assert [steps.nth(i).get_attribute("data-kind") for i in range(3)] == ["create", "split", "split"]
        assert page_width(phone) <= PHONE_WIDTH
    finally:
        context.close()
