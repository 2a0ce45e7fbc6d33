"""A clerk imports a police list on a phone (360 px, touch, Chinese): upload -> preview with
the proposed mapping -> import -> the progress page, which follows the job by itself
(static/lists.js) until the counts and the link to the problems are there."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app.domain.units import get_or_create_unit
from app.domain.users import create_user
from app.extensions import db
from app.models import AdminUnit, ImportedList, Role, UnitLevel
from app.web import lists as lists_web
from tests.browser.conftest import PHONE_WIDTH, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import id_number

pytestmark = pytest.mark.browser

# A township and clerk of this test's own: the other browser tests' data does not matter.
TOWNSHIP, VILLAGE = "110101003000", "110101003001"


def police_csv() -> bytes:
    rows = ["姓名,性别,出生日期,公民身份号码,户号,与户主关系,村(居)委会,住址",
            f"欧阳明,男,1980-04-05,{id_number('1980-04-05', '1', seq=8)},J001,户主,{VILLAGE},菊儿胡同3号",
            f"欧阳丽,女,1982/7/8,110101198207080,J001,配偶,{VILLAGE},菊儿胡同3号",  # a short ID number: flagged
            f"欧阳小,男,2012年9月1日,,J001,子,{VILLAGE},菊儿胡同3号"]
    return ("\n".join(rows) + "\n").encode("gbk")  # as clerks' Excel saves CSV in China


def test_clerk_imports_a_police_list_on_a_phone(live_server, browser: Browser, tmp_path, monkeypatch):
    base, app = live_server.url, live_server.app
    app.config["LIST_UPLOAD_PATH"] = str(tmp_path / "uploads")
    with app.app_context():
        county = db.session.query(AdminUnit).filter_by(code="110101000000").one()
        township = get_or_create_unit(TOWNSHIP, "交道口街道", UnitLevel.township, county)
        get_or_create_unit(VILLAGE, "菊儿社区", UnitLevel.village, township)
        create_user(None, username="lists_clerk", name="冯文书", password=PASSWORD, role=Role.clerk, unit=township)
        db.session.commit()

    # The job is held back until the progress page is open, so that the page is seen following it.
    held = []
    monkeypatch.setattr(lists_web, "_enqueue", lambda *args: held.append(args))
    file = tmp_path / "公安户籍2026-11.csv"
    file.write_bytes(police_csv())

    context, page = phone_logged_in(browser, base, "lists_clerk")
    try:
        page.get_by_test_id("home-lists").tap()
        expect(page.get_by_test_id("upload-form")).to_be_visible()
        assert page_width(page) <= PHONE_WIDTH
        page.select_option("#source", "police")
        page.fill("#month", "2026-11")
        page.set_input_files("#file", str(file))
        page.get_by_test_id("upload").tap()

        # The preview: the first rows as read from GBK, each column with its proposed field.
        expect(page.get_by_test_id("preview-rows")).to_contain_text("欧阳明")
        expect(page.get_by_test_id("preview-rows")).to_contain_text("1982/7/8")
        assert page.input_value("#col-0") == "name" and page.input_value("#col-3") == "id_number"
        assert page.input_value("#col-6") == "village"
        expect(page.get_by_test_id("mapping-errors")).to_have_count(0)
        assert page_width(page) <= PHONE_WIDTH  # the wide rows scroll inside their box
        page.screenshot(path=str(tmp_path / "preview-360.png"), full_page=True)
        confirm = page.get_by_test_id("confirm")
        confirm.scroll_into_view_if_needed()
        box = confirm.bounding_box()
        assert box and box["height"] >= 44 and box["x"] + box["width"] <= PHONE_WIDTH
        confirm.tap()

        # The progress page while the job waits, then following it without a reload by hand.
        expect(page.get_by_test_id("list-state")).to_contain_text("正在导入")
        assert page_width(page) <= PHONE_WIDTH
        assert len(held) == 1
        monkeypatch.undo()
        with app.app_context():
            lists_web._enqueue(*held[0])  # the task queue runs it (at once, in tests)
            lst = db.session.query(ImportedList).order_by(ImportedList.id.desc()).first()
            assert lst.state == "loaded"
        expect(page.get_by_test_id("list-state")).to_contain_text("导入完成", timeout=15_000)
        expect(page.get_by_test_id("count-read")).to_have_text("3")
        expect(page.get_by_test_id("count-loaded")).to_have_text("3")
        expect(page.get_by_test_id("count-flagged")).to_have_text("1")
        expect(page.get_by_test_id("count-refused")).to_have_text("0")
        assert page_width(page) <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "done-360.png"), full_page=True)

        page.get_by_test_id("problems").tap()
        expect(page.get_by_test_id("problem-rows")).to_contain_text("110101198207080")
        expect(page.get_by_test_id("problem-rows")).to_contain_text("第 3 行")
        assert page_width(page) <= PHONE_WIDTH
        xlsx = page.request.get(base + f"/lists/{lst.id}/problems.xlsx")
        assert xlsx.ok and xlsx.body().startswith(b"PK")

        # Back to the lists of the area (the crumbs): the list's row, stacked, within the screen.
        page.get_by_role("link", name="名单导入", exact=True).first.tap()
        row = page.get_by_test_id(f"list-{lst.id}")
        expect(row).to_contain_text("公安户籍2026-11.csv")
        expect(row).to_contain_text("导入完成")
        assert page_width(page) <= PHONE_WIDTH
        box = row.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH
        page.screenshot(path=str(tmp_path / "lists-360.png"), full_page=True)
    finally:
        context.close()
