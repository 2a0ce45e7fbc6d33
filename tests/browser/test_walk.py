"""The whole chain walked as new users would, on a 360x740 touch screen at a pixel ratio of 3
(issue 14's online walk): the collector registers a household through the form and signs by
finger; the village leader checks the ID numbers, reveals one, and returns it with a reason;
the collector sees the reason in the form, fixes, is told what is next, signs and submits; the
leader confirms; the verifier finds it by collector and card number and verifies; the clerk
prints the village's book; the QR code read off the printed page opens the household.

Every button is tapped (touch), every signature drawn with touch events (conftest.draw_signature)."""
from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Household, WorkflowEvent
from tests.browser.conftest import PHONE_WIDTH, draw_signature, page_width, phone_logged_in
from tests.browser.test_collect_browser import fill_member
from tests.conftest import PASSWORD
from tests.support.households import id_number

pytestmark = pytest.mark.browser

TOWNSHIP, VILLAGE = "110101001000", "110101001015"
USERS = {"walk_collector": ("collector", VILLAGE, "吴采集"), "walk_leader": ("village_leader", VILLAGE, "郑村长"),
         "walk_verifier": ("verifier", TOWNSHIP, "冯审核"), "walk_clerk": ("clerk", TOWNSHIP, "陈文书")}
HEAD = {"name": "卫国强", "birth": "1979-04-12", "sex": "1", "rel": ("户主", "02"), "marital": "20"}
SON = {"name": "卫小明", "birth": "2009-08-30", "sex": "1", "rel": ("子", "20"), "marital": "10"}
HEAD["id"], SON["id"] = id_number(HEAD["birth"], "1", seq=61), id_number(SON["birth"], "1", seq=62)
SHOTS = Path(os.environ.get("WALK_SHOTS", "/tmp/walk_shots"))


@pytest.fixture
def walkers(live_server):
    """A village of its own (no other test's households in its queues) and one user per role."""
    from app.domain.units import get_or_create_unit
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, UnitLevel, User

    with live_server.app.app_context():
        township = db.session.scalar(select(AdminUnit).where(AdminUnit.code == TOWNSHIP))
        get_or_create_unit(VILLAGE, "漫步村", UnitLevel.village, township)
        for username, (role, code, name) in USERS.items():
            if db.session.scalar(select(User).where(User.username == username)) is None:
                unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
                create_user(None, username=username, name=name, password=PASSWORD, role=Role(role), unit=unit)
        db.session.commit()


def shot(page: Page, name: str) -> None:
    assert page_width(page) <= PHONE_WIDTH, f"{name}: the page scrolls sideways"
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def qr_codes(pdf: bytes, folder: Path) -> list[str]:
    """The QR codes printed in a PDF, as a phone's camera would read them off the paper."""
    import zxingcpp
    from PIL import Image

    (folder / "book.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(folder / "book.pdf"), str(folder / "page")], check=True)
    return [r.text for png in sorted(folder.glob("page-*.png"))
            for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_the_whole_walk_on_a_touch_phone(live_server, browser: Browser, walkers, tmp_path):
    base, app = live_server.url, live_server.app
    SHOTS.mkdir(parents=True, exist_ok=True)
    col_ctx, col = phone_logged_in(browser, base, "walk_collector")
    lead_ctx, lead = phone_logged_in(browser, base, "walk_leader")
    ver_ctx, ver = phone_logged_in(browser, base, "walk_verifier")
    clerk_ctx, clerk = phone_logged_in(browser, base, "walk_clerk")
    try:
        # 1. The collector: a new household through the form, by touch.
        col.goto(f"{base}/collect/")
        col.get_by_test_id("new-household").first.tap()
        col.wait_for_url(re.compile(r".*/collect/households/new(\?.*)?$"))
        col.select_option("#household-household_type", "family")
        col.fill("#household-door_no", "漫步路3")  # incomplete: the leader will ask for the whole number
        col.locator("[data-next]").tap()
        fill_member(col, 0, HEAD, HEAD["id"])
        col.get_by_test_id("nav-add-member").tap()
        fill_member(col, 1, SON, SON["id"])
        col.get_by_test_id("nav-summary").tap()
        shot(col, "01-collector-summary")
        col.get_by_test_id("save-bar").tap()
        col.wait_for_url(re.compile(r".*/collect/households/[0-9a-f-]{36}$"))
        household_id = col.url.rsplit("/", 1)[1]
        # Saved complete: the page says it still has to be signed and submitted, with the button.
        expect(col.get_by_test_id("next-step")).to_contain_text("签字并提交")
        col.get_by_test_id("go-sign-submit").tap()
        draw_signature(col, "submit-form")
        shot(col, "02-collector-signed")
        col.get_by_test_id("submit").tap()
        col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
        expect(col.get_by_test_id("submit-form")).to_have_count(0)
        with app.app_context():
            card = db.session.get(Household, uuid.UUID(household_id)).card_no

        # 2. The leader: masked numbers with their check result; one revealed (audited); returned.
        lead.goto(f"{base}/review/leader")
        lead.get_by_test_id(f"queue-{card}").locator("a").first.tap()
        lead.wait_for_url(re.compile(rf".*/review/households/{household_id}$"))
        expect(lead.get_by_test_id("masked-id")).to_have_count(2)
        expect(lead.get_by_test_id("id-check").first).to_contain_text("校验通过")
        assert HEAD["id"] not in lead.content()
        lead.get_by_test_id("reveal-id").first.tap()
        expect(lead.get_by_test_id("full-id")).to_have_text(HEAD["id"])
        lead.get_by_test_id("reason-address_unclear").tap()
        lead.fill("#reason_text", "门牌号请写全")
        shot(lead, "03-leader-return")
        lead.get_by_test_id("return").tap()
        lead.wait_for_url(re.compile(r".*/review/leader$"))

        # 3. The collector: the reason on the household and at the top of the form; fix; told
        #    what is next; sign by finger; submit.
        col.goto(f"{base}/collect/households/{household_id}")
        expect(col.get_by_test_id("return-reason")).to_contain_text("门牌号请写全")
        col.get_by_test_id("edit").tap()
        col.wait_for_url(re.compile(r".*/edit$"))
        expect(col.get_by_test_id("form-return-reason")).to_contain_text("门牌号请写全")
        shot(col, "04-collector-form-with-reason")
        col.fill("#household-door_no", "漫步路3号")
        col.get_by_test_id("save-bar").tap()
        col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
        expect(col.locator(".flash").first).to_contain_text("还需签字并提交")
        expect(col.get_by_test_id("return-reason")).to_contain_text("门牌号请写全")  # until resubmitted
        col.get_by_test_id("go-sign-submit").tap()
        draw_signature(col, "submit-form")
        col.get_by_test_id("submit").tap()
        col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
        expect(col.locator(".flash-error")).to_have_count(0)
        shot(col, "05-collector-resubmitted")

        # 4. The leader confirms, signing by finger.
        lead.goto(f"{base}/review/households/{household_id}")
        draw_signature(lead, "confirm-form")
        lead.get_by_test_id("confirm").tap()
        lead.wait_for_url(re.compile(r".*/review/leader$"))

        # 5. The verifier: the township's queue narrowed to this collector and card; verified.
        ver.goto(f"{base}/review/verifier")
        with app.app_context():
            from app.models import User
            collector_id = db.session.scalar(select(User.id).where(User.username == "walk_collector"))
        expect(ver.get_by_test_id("filter-collector")).to_contain_text("吴采集 (1)")
        ver.get_by_test_id("filter-collector").select_option(str(collector_id))
        ver.get_by_test_id("filter-card").fill(card)
        ver.get_by_test_id("filter-apply").tap()
        expect(ver.get_by_test_id(f"pick-{card}")).to_have_count(1)
        ver.get_by_test_id(f"pick-{card}").tap()
        draw_signature(ver, "verify-many-form")
        shot(ver, "06-verifier-filtered")
        ver.get_by_test_id("verify-many").tap()
        expect(ver.locator("[data-testid=result][data-ok=yes]")).to_have_count(1)

        # 6. The clerk prints the village's book; the PDF is read back.
        clerk.get_by_test_id("print-books").tap()
        clerk.get_by_test_id("villages").get_by_role("link", name="漫步村").tap()
        expect(clerk.get_by_test_id("print-village")).to_be_visible()
        shot(clerk, "07-clerk-village")
        clerk.get_by_test_id("print-village").tap()
        expect(clerk.get_by_test_id("job-state")).to_contain_text("已完成")
        href = clerk.get_by_test_id("files").get_by_role("link").first.get_attribute("href")
        pdf = clerk.request.get(base + href)
        assert pdf.ok and pdf.body().startswith(b"%PDF")
        (tmp_path / "text.pdf").write_bytes(pdf.body())
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "text.pdf"), "-"], check=True,
                              capture_output=True, text=True).stdout
        assert HEAD["name"] in text and "漫步路3号" in text and "正常" in text
        assert card in text and "冯审核" in text  # the verifier's name in the card's signature box
        urls = qr_codes(pdf.body(), tmp_path)
        assert len(urls) == 1 and f"/c/{VILLAGE}-{card}." in urls[0]

        # 7. The collector scans the printed card: the household opens, verified.
        col.goto(urls[0])
        col.wait_for_url(f"{base}/collect/households/{household_id}")
        expect(col.get_by_test_id("household-summary")).to_contain_text("已审核")
        shot(col, "08-scanned")
    finally:
        for c in (col_ctx, lead_ctx, ver_ctx, clerk_ctx):
            c.close()

    with app.app_context():
        events = db.session.scalars(select(WorkflowEvent.action).where(
            WorkflowEvent.household_id == uuid.UUID(household_id)).order_by(WorkflowEvent.id)).all()
        assert events == ["submit", "return", "submit", "confirm", "verify"]
        reveals = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "person.id_number_reveal")).all()
        mine = [e for e in reveals if e.details["household_id"] == household_id]
        assert len(mine) == 1 and mine[0].details["name"] == HEAD["name"]
