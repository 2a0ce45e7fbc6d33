"""The clerk's print screens in Chromium at 360 px, in Chinese: villages, books, a print job
that the queue runs (immediately in tests), and its PDF."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.domain import registration
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, Household, Role, User
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


# The width of an element's text as laid out, the number of lines it takes, and its box.
TEXT_BOX = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  const box = el.getBoundingClientRect();
  return {text: el.innerText, lines: lines.size, textWidth: range.getBoundingClientRect().width,
          width: box.width, height: box.height, right: box.right,
          innerWidth: el.clientWidth - parseFloat(getComputedStyle(el).paddingLeft)
                      - parseFloat(getComputedStyle(el).paddingRight)};
}"""


def test_books_table_is_usable_at_360_px(live_server, phone: Page, tmp_path):
    """Issue 14: at 360 px the table broke card numbers mid-number and stacked "打印本册" one
    character a line. Two books of a village whose card numbers are not ranges (print order is
    door order, card numbers are the order of registration), one printed and then changed."""
    base, app = live_server.url, live_server.app
    size = app.config["BOOK_SIZE"]
    with app.app_context():
        from app.domain.units import get_or_create_unit
        from app.models import UnitLevel

        township = db.session.query(AdminUnit).filter_by(code="110101001000").one()
        village = get_or_create_unit("110101001007", "百子湾社区", UnitLevel.village, township)
        collector = create_user(None, username="runs_collector", name="周采集", password=PASSWORD,
                                role=Role.collector, unit=village)
        create_user(None, username="runs_clerk", name="吴文书", password=PASSWORD, role=Role.clerk,
                    unit=township)
        # Cards 0001..0008 registered in this order, at these doors: in door order the books
        # (5 a book here) hold 0001-0003, 0006-0007 | 0004-0005, 0008.
        households = []
        for seq, door in enumerate([1, 2, 3, 7, 8, 4, 5, 6], start=1):
            data = family(surname="孙", seq=60 + seq)
            data["household"]["door_no"] = f"{door}号"
            households.append(registration.new_household(collector, unit_id=village.id, data=data,
                                                         today=TODAY).household.id)
        db.session.commit()
        village_id = village.id
    app.config["BOOK_SIZE"] = 5
    try:
        log_in(phone, base, "runs_clerk")
        phone.goto(f"{base}/print/villages/{village_id}")
        phone.get_by_test_id("print-village").click(timeout=120_000)  # two books, rendered in the request
        expect(phone.get_by_test_id("job-state")).to_contain_text("已完成")
    finally:
        app.config["BOOK_SIZE"] = size
    with app.app_context():  # a correction after printing: book 1 has a card to reprint
        h = db.session.get(Household, households[0])
        data = dict(h.current_version.data)
        data["household"] = {**data["household"], "phone": "13800138000"}
        collector = db.session.query(User).filter_by(username="runs_collector").one()
        registration.save_household(collector, h.id, data=data, base_number=h.current_number, today=TODAY)
        db.session.commit()

    phone.goto(f"{base}/print/villages/{village_id}")
    expect(phone.get_by_test_id("runs-1")).to_have_text("0001–0003, 0006–0007")
    expect(phone.get_by_test_id("runs-2")).to_have_text("0004–0005, 0008")
    phone.screenshot(path=str(tmp_path / "books-360.png"), full_page=True)
    assert page_width(phone) <= PHONE_WIDTH  # no sideways scrolling of the page

    runs = phone.locator("[data-testid=books] .run")
    assert runs.count() == 4
    for k in range(runs.count()):
        run = runs.nth(k).evaluate(TEXT_BOX)
        assert run["lines"] == 1 and run["right"] <= PHONE_WIDTH, run  # a run is never broken
    buttons = phone.locator("[data-testid=books] button")
    labels = [buttons.nth(k).inner_text() for k in range(buttons.count())]
    assert labels == ["打印本册", "补打变更的户卡", "打印本册"]
    for k in range(buttons.count()):
        button = buttons.nth(k).evaluate(TEXT_BOX)
        assert button["lines"] == 1 and button["textWidth"] <= button["innerWidth"] + 0.5, button
        assert 44 <= button["height"] < 60 and button["right"] <= PHONE_WIDTH, button
