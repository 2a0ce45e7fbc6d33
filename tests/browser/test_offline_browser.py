"""The collector offline on a 360 px phone (device pixel ratio 3, touch) in real Chromium
(issue 6's browser tests): one login online, then the network off (context.set_offline): a new
household begun with "+ 新建住户", three people typed, reloaded, signed by touch and submitted
into the outbox, reloaded again (the outbox is kept); an existing household found in the
phone's list and edited; the network back on: both sent, exactly one new version each on the
server. Two collectors editing the same household offline: the second is a conflict, shown on
the second phone and to the village leader. And (issue 14) every link and button of the
collector's home and households pages, tapped offline: each works or says it needs the network."""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select

from app.extensions import db
from app.models import Household, HouseholdVersion
from tests.browser.conftest import PHONE, PHONE_WIDTH, draw_signature, phone_logged_in
from tests.browser.test_collect_browser import MEMBERS, fill_member, translated
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("OFFLINE_SHOTS", "/tmp/offline_shots"))
# A village of its own: the households submitted here do not change other tests' queues.
VILLAGE, TOWNSHIP = "110101001009", "110101001000"
USERS = {"off_collector": ("collector", "孙采集"), "off_second": ("collector", "周采集"),
         "off_leader": ("village_leader", "吴村长")}


@pytest.fixture
def village(live_server) -> dict:
    """A village with two collectors and a village leader (made once) and a new household there."""
    from app.domain import registration
    from app.domain.units import get_or_create_unit
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, UnitLevel, User

    with live_server.app.app_context():
        township = db.session.scalar(select(AdminUnit).where(AdminUnit.code == TOWNSHIP))
        unit = get_or_create_unit(VILLAGE, "离线社区", UnitLevel.village, township)
        for username, (role, name) in USERS.items():
            if db.session.scalar(select(User).where(User.username == username)) is None:
                create_user(None, username=username, name=name, password=PASSWORD, role=Role(role), unit=unit)
        db.session.commit()
        me = db.session.scalar(select(User).where(User.username == "off_collector"))
        data = family("孙", seq=int(uuid.uuid4().int % 40) + 50)
        h = registration.new_household(me, unit_id=unit.id, data=data, today=TODAY).household
        db.session.commit()
        return {"unit_id": unit.id, "household_id": str(h.id), "card_no": h.card_no,
                "head": data["members"][0]["name"]}


def versions(app, household_id: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(HouseholdVersion)
                                 .where(HouseholdVersion.household_id == uuid.UUID(household_id)))


def logged_in(browser: Browser, base: str, username: str) -> tuple[BrowserContext, Page]:
    return phone_logged_in(browser, base, username)


def phone_of(browser: Browser, base: str, username: str) -> tuple[BrowserContext, Page]:
    """A phone that logged in once online and synced: the service worker controls it, the
    pages needed offline are cached and the households are on the phone."""
    context, page = logged_in(browser, base, username)
    expect(page.get_by_test_id("status-bar")).to_have_attribute("data-ready", "1")
    page.goto(f"{base}/collect/")
    expect(page.get_by_test_id("status-bar")).to_have_attribute("data-ready", "1")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    return context, page


def bar(page: Page):
    return page.get_by_test_id("status-bar")


def sign_and_submit(page: Page) -> None:
    page.get_by_test_id("nav-summary").click()
    draw_signature(page, "summary")
    page.get_by_test_id("sign-submit").click()
    page.wait_for_url(re.compile(r".*/collect/$"))


def open_from_phone_list(page: Page, base: str, text: str, card_no: str) -> None:
    """Offline: the list page from the cache, the phone's households searched, one opened."""
    page.goto(f"{base}/collect/")
    page.get_by_test_id("offline-search").fill(text)
    item = page.get_by_test_id(f"offline-household-{card_no}")
    expect(item).to_have_count(1)
    item.locator("a").click()
    page.wait_for_url(re.compile(r".*/edit(\?.*)?$"))
    expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)


def test_a_day_offline_loses_nothing_and_sends_each_change_once(live_server, browser: Browser, village):
    base, app = live_server.url, live_server.app
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = phone_of(browser, base, "off_collector")
    try:
        context.set_offline(True)
        # A new household, begun as a collector does, with "+ 新建住户" on the list page (issue 14:
        # it opened the browser's error page offline): the form comes from the cache; what is
        # typed is kept as it is typed.
        page.reload()
        expect(bar(page)).to_have_attribute("data-ready", "1")
        page.get_by_test_id("new-household").tap()
        page.wait_for_url(re.compile(rf".*/collect/households/new\?unit_id={village['unit_id']}#draft=.*"))
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        expect(bar(page)).to_have_attribute("data-online", "0")
        expect(page.get_by_test_id("status-online")).to_have_text(translated(app, "zh_CN", "Offline"))
        page.select_option("#household-household_type", "family")
        door = f"离线路{uuid.uuid4().hex[:4]}号"
        page.fill("#household-door_no", door)
        page.click("[data-next]")
        fill_member(page, 0, MEMBERS[0], MEMBERS[0]["id"])
        page.wait_for_timeout(500)  # the debounced draft save
        assert re.search(r"#draft=[0-9a-f-]{36}$", page.url)

        page.reload()  # offline: the page from the cache, the typed values from IndexedDB
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        expect(page.locator("#household-door_no")).to_have_value(door)
        expect(page.get_by_test_id("discard-draft")).to_be_visible()
        expect(page.locator("#members-0-name")).to_have_value(MEMBERS[0]["name"])
        expect(page.locator("#members-0-relationship")).to_have_value(MEMBERS[0]["rel"][1])
        for i in (1, 2):
            page.get_by_test_id("nav-add-member").click()
            fill_member(page, i, MEMBERS[i], MEMBERS[i]["id"])
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH

        # Checked on the phone: an empty pad is refused before anything goes into the outbox.
        page.get_by_test_id("nav-summary").click()
        page.get_by_test_id("sign-submit").click()
        expect(page.locator("[data-testid=summary] [data-testid=signature-error]")).to_be_visible()
        expect(bar(page)).to_have_attribute("data-waiting", "0")
        sign_and_submit(page)
        expect(bar(page)).to_have_attribute("data-waiting", "1")
        expect(page.get_by_test_id("status-waiting")).to_contain_text("1")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        page.screenshot(path=str(SHOTS / "offline-outbox.png"))

        page.reload()  # still offline: the outbox is kept
        expect(bar(page)).to_have_attribute("data-waiting", "1")
        new_id = page.evaluate("""async () => {
            const db = await new Promise((ok, no) => { const r = indexedDB.open(
                'doorstep-' + document.getElementById('sync-bar').dataset.user);
                r.onsuccess = () => ok(r.result);
                r.onerror = () => no(r.error); });
            const items = await new Promise((ok) => { const r = db.transaction('outbox').objectStore('outbox')
                .getAll(); r.onsuccess = () => ok(r.result); });
            return items.map((i) => [i.household_id, i.base_version, i.data.members.length,
                                     i.signature.length]);
        }""")
        assert len(new_id) == 1 and new_id[0][1:] == [0, 3, 2]
        new_id = new_id[0][0]

        # An existing household, found and edited offline (its edit page was never opened).
        open_from_phone_list(page, base, village["head"], village["card_no"])
        expect(page.locator("#household-door_no")).to_have_value(re.compile(r"号$"))
        expect(page.locator("#members-3-name")).to_have_value(re.compile(r"丽$"))
        page.fill("#household-door_no", "改过的门牌9号")
        page.screenshot(path=str(SHOTS / "offline-edit.png"))
        sign_and_submit(page)
        expect(bar(page)).to_have_attribute("data-waiting", "2")
        assert versions(app, village["household_id"]) == 1
        with app.app_context():
            assert db.session.get(Household, uuid.UUID(new_id)) is None

        # The network is back: both go, once each; the bar shows nothing waiting.
        context.set_offline(False)
        expect(bar(page)).to_have_attribute("data-online", "1")
        expect(bar(page)).to_have_attribute("data-waiting", "0", timeout=20_000)
        expect(page.get_by_test_id("status-waiting")).to_have_text(
            translated(app, "zh_CN", "Nothing waiting"))
        expect(bar(page)).to_have_attribute("data-attention", "0")
        expect(page.get_by_test_id("status-last-sync")).to_contain_text(
            translated(app, "zh_CN", "Last sync %(time)s", time="").strip())
        assert versions(app, village["household_id"]) == 2
        assert versions(app, new_id) == 1
        with app.app_context():
            h = db.session.get(Household, uuid.UUID(village["household_id"]))
            assert h.current_version.data["household"]["door_no"] == "改过的门牌9号"
            assert h.state == "submitted"
            new = db.session.get(Household, uuid.UUID(new_id))
            assert new.current_version.data["household"]["door_no"] == door
            assert [m["name"] for m in new.current_version.data["members"]] == [
                m["name"] for m in MEMBERS[:3]]
            assert new.state == "submitted"
        # "Sync now" again sends nothing new.
        page.get_by_test_id("sync-now").click()
        expect(page.get_by_test_id("sync-now")).to_be_enabled()
        assert versions(app, village["household_id"]) == 2 and versions(app, new_id) == 1

        # The form definition with its code tables was cached too; logging out drops the cached pages.
        cached = page.evaluate(
            "caches.open('doorstep-pages').then((c) => c.keys()).then((k) => k.map((r) => r.url))")
        assert f"{base}/api/v1/form" in cached and f"{base}/collect/" in cached
        page.locator("form[action$='/logout'] button").click()
        page.wait_for_url(re.compile(r".*/login.*"))
        assert not page.evaluate("caches.has('doorstep-pages')")
    finally:
        context.close()


def test_two_collectors_edit_the_same_household_offline_the_second_is_a_conflict(
        live_server, browser: Browser, village):
    base, app = live_server.url, live_server.app
    first, page1 = phone_of(browser, base, "off_collector")
    second, page2 = phone_of(browser, base, "off_second")
    try:
        for context, page, door in ((first, page1, "甲改9号"), (second, page2, "乙改9号")):
            context.set_offline(True)
            open_from_phone_list(page, base, village["head"], village["card_no"])
            page.fill("#household-door_no", door)
            sign_and_submit(page)
            expect(bar(page)).to_have_attribute("data-waiting", "1")
        first.set_offline(False)
        expect(bar(page1)).to_have_attribute("data-waiting", "0", timeout=20_000)
        expect(bar(page1)).to_have_attribute("data-attention", "0")
        second.set_offline(False)
        expect(bar(page2)).to_have_attribute("data-waiting", "0", timeout=20_000)
        expect(bar(page2)).to_have_attribute("data-attention", "1")
        page2.get_by_test_id("status-attention").click()
        item = page2.get_by_test_id("attention-item")
        expect(item).to_have_attribute("data-reason", "conflict")
        expect(item.get_by_test_id("attention-reason")).to_contain_text(translated(
            app, "zh_CN",
            "Conflict: someone else changed this household meanwhile; the village leader will resolve it."))
        assert versions(app, village["household_id"]) == 2  # the first edit only
        with app.app_context():
            h = db.session.get(Household, uuid.UUID(village["household_id"]))
            assert h.current_version.data["household"]["door_no"] == "甲改9号"
        # A conflict, kept on the server, may be dismissed on the phone.
        item.get_by_role("button").click()
        expect(bar(page2)).to_have_attribute("data-attention", "0")

        # The village leader sees the conflict: the server's door number beside the phone's.
        leader, page3 = logged_in(browser, base, "off_leader")
        expect(page3.get_by_test_id("status-bar")).to_have_count(0)  # not a collector
        page3.goto(f"{base}/conflicts")
        entry = page3.get_by_test_id("conflicts").locator("li", has_text=village["card_no"])
        expect(entry).to_have_count(1)
        entry.locator("a").click()
        row = page3.get_by_test_id("row-household.door_no")
        expect(row).to_contain_text("甲改9号")
        expect(row).to_contain_text("乙改9号")
        # The leader keeps the phone's edit: a new version on top; the first edit stays in the history.
        page3.get_by_test_id("keep-mine").click()
        expect(page3.locator(".flash-success")).to_contain_text(village["card_no"])
        assert versions(app, village["household_id"]) == 3
        with app.app_context():
            h = db.session.get(Household, uuid.UUID(village["household_id"]))
            doors = [v.data["household"]["door_no"] for v in h.versions]
            assert doors[-2:] == ["甲改9号", "乙改9号"], "no edit lost"
        leader.close()
    finally:
        first.close()
        second.close()


def test_a_submission_the_server_refuses_needs_attention_and_is_corrected_on_the_form(
        live_server, browser: Browser, village):
    """The phone cannot see every rule: the same ID number twice in a household passes the
    field checks offline and is refused (422) by the server's household rules."""
    base, app = live_server.url, live_server.app
    context, page = phone_of(browser, base, "off_collector")
    try:
        context.set_offline(True)
        page.goto(f"{base}/collect/households/new?unit_id={village['unit_id']}")
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        page.select_option("#household-household_type", "family")
        page.fill("#household-door_no", "重号路1号")
        page.click("[data-next]")
        fill_member(page, 0, MEMBERS[0], MEMBERS[0]["id"])
        page.get_by_test_id("nav-add-member").click()
        twin = {**MEMBERS[2], "name": "周重号"}
        fill_member(page, 1, twin, MEMBERS[0]["id"])  # the head's number: valid, but taken
        # Offline, "Save draft" keeps the draft on the phone instead of failing.
        page.get_by_test_id("save-bar").click()
        expect(page.get_by_test_id("offline-notice")).to_be_visible()
        assert "#draft=" in page.url
        sign_and_submit(page)
        expect(bar(page)).to_have_attribute("data-waiting", "1")

        context.set_offline(False)
        expect(bar(page)).to_have_attribute("data-waiting", "0", timeout=20_000)
        expect(bar(page)).to_have_attribute("data-attention", "1")
        page.get_by_test_id("status-attention").click()
        item = page.get_by_test_id("attention-item")
        expect(item).to_have_attribute("data-reason", "invalid")
        expect(item.get_by_role("button")).to_have_count(0)  # refused work is never dismissed
        household_id = item.get_attribute("data-household")
        with app.app_context():
            assert db.session.get(Household, uuid.UUID(household_id)) is None

        # Opened: the signed data is back in the form, the server's message beside the field.
        item.get_by_role("link").click()
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        expect(page.locator("#members-1-name")).to_have_value("周重号")
        expect(page.locator("[data-testid^=offline-issue-members-]").first).to_be_visible()
        page.get_by_test_id("nav-m-1").click()
        page.fill("#members-1-id_number", MEMBERS[2]["id"])
        page.fill("#members-1-birth_date", MEMBERS[2]["birth"])
        page.select_option("#members-1-sex", MEMBERS[2]["sex"])
        sign_and_submit(page)
        expect(bar(page)).to_have_attribute("data-attention", "0", timeout=20_000)
        expect(bar(page)).to_have_attribute("data-waiting", "0", timeout=20_000)
        assert versions(app, household_id) == 1
        with app.app_context():
            stored = db.session.get(Household, uuid.UUID(household_id)).current_version.data
            names = [m["name"] for m in stored["members"]]
            assert names == [MEMBERS[0]["name"], "周重号"]
    finally:
        context.close()


def test_a_draft_survives_closing_the_browser(live_server, browser: Browser, village, tmp_path):
    """The browser closed while offline and started again (a phone restart): the draft is still
    on the phone and the form opens with what was typed. (After the restart the test logs in
    online again: Chromium's offline switch does not reach a service worker that a restarted
    profile starts before Playwright attaches, and the session cookie is gone anyway.)"""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    base = live_server.url

    def start() -> tuple[BrowserContext, Page]:
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, **PHONE)
        context.set_default_timeout(15_000)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{base}/login")
        page.fill("#username", "off_collector")
        page.fill("#password", PASSWORD)
        page.click("form button[type=submit].primary")
        page.wait_for_url(f"{base}/")
        expect(bar(page)).to_have_attribute("data-ready", "1")
        return context, page

    context, page = start()
    page.goto(f"{base}/collect/")
    expect(bar(page)).to_have_attribute("data-ready", "1")
    context.set_offline(True)
    page.goto(f"{base}/collect/households/new?unit_id={village['unit_id']}")
    expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
    page.fill("#household-door_no", "重启路3号")
    page.click("[data-next]")
    page.fill("#members-0-name", "郑重启")
    page.wait_for_timeout(500)  # the debounced draft save
    form_url = page.url
    assert "#draft=" in form_url
    context.close()

    context, page = start()
    try:
        page.goto(form_url)
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        expect(page.locator("#household-door_no")).to_have_value("重启路3号")
        expect(page.locator("#members-0-name")).to_have_value("郑重启")
        expect(page.get_by_test_id("discard-draft")).to_be_visible()
    finally:
        context.close()


DRAFTS_JS = """async () => {
    const db = await new Promise((ok, no) => { const r = indexedDB.open(
        'doorstep-' + document.getElementById('sync-bar').dataset.user);
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    return await new Promise((ok) => { const r = db.transaction('drafts').objectStore('drafts').getAll();
        r.onsuccess = () => ok(r.result.map((d) => d.data.household.door_no)); });
}"""


def test_a_draft_goes_when_it_is_saved_online_or_discarded(live_server, browser: Browser, village):
    base = live_server.url
    context, page = phone_of(browser, base, "off_collector")
    try:
        form = f"{base}/collect/households/new?unit_id={village['unit_id']}"
        # Discarded: the form starts again empty, with a new id.
        page.goto(form)
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        page.fill("#household-door_no", "丢弃路1号")
        page.wait_for_timeout(500)
        first = page.url
        page.reload()
        page.get_by_test_id("discard-draft").click()
        first_id = first.rsplit("=", 1)[1]
        page.wait_for_url(re.compile(rf".*#draft=(?!{first_id})[0-9a-f-]{{36}}$"))
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)
        expect(page.locator("#household-door_no")).to_have_value("")
        expect(page.get_by_test_id("discard-draft")).to_have_count(0)
        assert "丢弃路1号" not in page.evaluate(DRAFTS_JS)

        # Saved online with "Save draft": the server has it, the phone's draft goes.
        page.select_option("#household-household_type", "family")
        page.fill("#household-door_no", "在线路2号")
        page.click("[data-next]")
        fill_member(page, 0, MEMBERS[0], MEMBERS[0]["id"])
        page.wait_for_timeout(500)
        assert "在线路2号" in page.evaluate(DRAFTS_JS)
        page.get_by_test_id("save-bar").click()
        page.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))
        expect(bar(page)).to_have_attribute("data-ready", "1")
        assert "在线路2号" not in page.evaluate(DRAFTS_JS)
    finally:
        context.close()


# ------------------------------------------------------------------ every link offline (issue 14)

# Two villages of one collector: "+ 新建住户" opens the chooser of the village.
LINKS_VILLAGES = ("110101001010", "离线东村"), ("110101001011", "离线西村")
CONTROLS = "a[href], button, input[type=submit]"
# The visible controls of the page, each with a key that finds it again after a reload (its
# kind, where it goes, its test id, its form, its name and value) and which of the same key it
# is; its text without the reason; whether it is greyed. Given [key, n]: that control gets the
# attribute data-probe (true), or none does (false).
CONTROLS_JS = """([sel, probe]) => {
    document.querySelectorAll("[data-probe]").forEach((el) => el.removeAttribute("data-probe"));
    const seen = {};
    const out = [];
    for (const el of document.querySelectorAll(sel)) {
        const box = el.getBoundingClientRect();
        if (!el.checkVisibility({visibilityProperty: true}) || !box.width || !box.height) continue;
        const form = el.form || el.closest("form");
        const key = [el.tagName, el.getAttribute("href") || "", el.dataset.testid || "",
                     form ? form.getAttribute("action") || "" : "", el.name || "", el.value || ""].join("|");
        seen[key] = (seen[key] || 0) + 1;
        if (probe) {
            if (key !== probe[0] || seen[key] !== probe[1]) continue;
            el.setAttribute("data-probe", "");
            return true;
        }
        const copy = el.cloneNode(true);
        copy.querySelectorAll(".needs-network-why").forEach((w) => w.remove());
        out.push({key, n: seen[key], text: copy.textContent.trim().replace(/\\s+/g, " "),
                  href: el.href || "", greyed: el.getAttribute("aria-disabled") === "true" || el.disabled});
    }
    return probe ? false : out;
}"""


@pytest.fixture
def two_villages(live_server) -> dict:
    """A collector of two villages (made once), with a household in each, one of them returned
    by the village leader: the returned list and the nav's count show on the collector's pages."""
    from app.domain import registration, workflow
    from app.domain.units import get_or_create_unit
    from app.domain.users import create_user, grant_role
    from app.models import AdminUnit, Role, UnitLevel, User

    with live_server.app.app_context():
        if db.session.scalar(select(User).where(User.username == "off_links")) is None:
            township = db.session.scalar(select(AdminUnit).where(AdminUnit.code == TOWNSHIP))
            units = [get_or_create_unit(code, name, UnitLevel.village, township)
                     for code, name in LINKS_VILLAGES]
            me = create_user(None, username="off_links", name="冯采集", password=PASSWORD, role=Role.collector,
                             unit=units[0])
            grant_role(None, me, Role.collector, units[1])
            leader = create_user(None, username="off_links_leader", name="陈村长", password=PASSWORD,
                                 role=Role.village_leader, unit=units[0])
            db.session.flush()
            for seq, unit in enumerate(units):
                h = registration.new_household(me, unit_id=unit.id, data=family("冯", seq=90 + seq),
                                               today=TODAY).household
                if seq == 0:
                    workflow.submit(me, h.id, version_number=1, strokes=SIGN)
                    workflow.return_household(leader, h.id, version_number=1,
                                              reason_codes=["wrong_id_number"])
            db.session.commit()
        returned = db.session.scalar(select(Household).join(AdminUnit, Household.village_id == AdminUnit.id)
                                     .where(AdminUnit.code == LINKS_VILLAGES[0][0]))
        return {"returned_id": str(returned.id)}


SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]


def _ready_offline(page: Page) -> None:
    """The page is the app's, its offline script has run and greyed what needs the network;
    the folded lists (my villages and groups) are opened, so that their links are tapped too."""
    assert not page.url.startswith("chrome-error:"), f"the browser's error page, not the app: {page.url}"
    expect(page.locator("header.top .brand")).to_have_count(1)
    expect(bar(page)).to_have_attribute("data-ready", "1")
    expect(bar(page)).to_have_attribute("data-online", "0")
    expect(page.locator("html")).to_have_attribute("data-links", "offline")
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def _without_hash(url: str) -> str:
    return url.split("#", 1)[0]


def tap_every_control(page: Page, start: str, reason: str) -> list[str]:
    """Offline on `start`: tap each visible link and button; each opens a page of the app or is
    greyed with `reason` and does nothing. Back to `start` after each. What was tapped, for the
    caller to check that the list is not empty or short."""
    page.goto(start)
    _ready_offline(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, "the reasons widen the page"
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = "household" if "/households/" in start else "list" if "/collect/" in start else "home"
    page.screenshot(path=str(SHOTS / f"offline-links-{name}.png"), full_page=True)
    controls = page.evaluate(CONTROLS_JS, [CONTROLS, None])
    tapped = []
    for c in controls:
        what = f"{c['text']!r} ({c['href'] or c['key']}) on {start}"
        if not page.evaluate(CONTROLS_JS, [CONTROLS, [c["key"], c["n"]]]):
            raise AssertionError(f"{what} is gone after going back")
        control = page.locator("[data-probe]")
        greyed = control.evaluate("(el) => el.getAttribute('aria-disabled') === 'true' || el.disabled")
        if greyed:
            why = page.locator("[data-probe] [data-testid=needs-network], "
                               "[data-probe] + [data-testid=needs-network]")
            expect(why, f"{what} is greyed without a reason").to_have_text(reason)
            expect(why).to_be_visible()
            control.tap(force=True)  # a finger on it anyway: nothing happens
            page.wait_for_timeout(300)
            assert _without_hash(page.url) == _without_hash(start), f"greyed {what} navigated to {page.url}"
            _ready_offline(page)
        else:
            control.tap()
            page.wait_for_load_state()
            assert not page.url.startswith("chrome-error:"), f"{what} opened the browser's error page"
            expect(page.locator("header.top .brand"), f"{what} opened no page of the app").to_have_count(1)
            if c["href"]:
                assert _without_hash(page.url).startswith(_without_hash(c["href"])), \
                    f"{what} went to {page.url}"
            expect(bar(page)).to_have_attribute("data-ready", "1")
            if _without_hash(page.url) != _without_hash(start):
                page.go_back()
                page.wait_for_load_state()
            if _without_hash(page.url) != _without_hash(start):
                page.goto(start)
            _ready_offline(page)
        tapped.append(f"{'greyed ' if greyed else ''}{c['text']} -> {c['href'] or c['key']}")
    return tapped


@pytest.mark.parametrize("username", ["off_collector", "off_links"])
def test_offline_every_link_of_the_collector_works_or_says_it_needs_the_network(
        live_server, browser: Browser, village, two_villages, username):
    """Issue 14: "+ 新建住户" opened Chromium's "This site can't be reached" offline. On the
    collector's home and households pages, every visible link and button is tapped offline."""
    base, app = live_server.url, live_server.app
    reason = translated(app, "zh_CN", "needs the network")
    context, page = phone_of(browser, base, username)
    household = f"{base}/collect/households/{two_villages['returned_id']}"
    if username == "off_links":  # a household's page opened online: the phone keeps it
        page.goto(household)
        expect(bar(page)).to_have_attribute("data-ready", "1")
    try:
        context.set_offline(True)
        # The finding first: the main "+ 新建住户" opens the form of the one village or the
        # chooser of the villages, from the phone's cache.
        page.goto(f"{base}/collect/")
        expect(bar(page)).to_have_attribute("data-ready", "1")
        page.get_by_test_id("new-household").tap()
        page.wait_for_load_state()
        assert not page.url.startswith("chrome-error:"), "+ 新建住户 opened the browser's error page"
        if username == "off_links":
            expect(page.get_by_test_id("choose-unit").locator("a")).to_have_count(len(LINKS_VILLAGES))
            page.get_by_test_id("choose-unit").locator("a").first.tap()
        expect(page.locator("#household-form[data-offline-ready]")).to_have_count(1)

        listed = tap_every_control(page, f"{base}/collect/", reason)
        home = tap_every_control(page, f"{base}/", reason)
        for tapped in (home, listed):
            assert any(t.startswith("+ ") and "/collect/households/new" in t for t in tapped), tapped
            assert any(t.startswith("greyed ") for t in tapped), "offline, log out needs the network"
        assert any("/collect/households/" in t and "/new" not in t for t in listed), "no household was tapped"
        if username == "off_links":
            assert any(t.endswith("#returned") for t in home + listed), home + listed
            # The household's page kept on the phone: edit works, its history needs the network.
            opened = tap_every_control(page, household, reason)
            assert any(t.startswith("greyed ") and "/history/" in t for t in opened), opened
            assert any(not t.startswith("greyed ") and t.endswith("/edit") for t in opened), opened
        # Online again, nothing is greyed.
        context.set_offline(False)
        expect(page.locator("html")).to_have_attribute("data-links", "online")
        expect(page.locator(".needs-network")).to_have_count(0)
        expect(page.get_by_test_id("needs-network")).to_have_count(0)
        # And the network lost again on the open page: greyed again at once, no reload needed.
        context.set_offline(True)
        expect(page.locator("html")).to_have_attribute("data-links", "offline")
        logout = page.locator("form[action$='/logout'] button")
        expect(logout).to_be_disabled()
        expect(logout.get_by_test_id("needs-network")).to_have_text(reason)
    finally:
        context.close()
