"""The "scan card" page on a 360 px phone in real Chromium.

Headless Chromium on Linux has no BarcodeDetector: the first test checks that the page works
without it (no script error, the hint shown, the camera part hidden) and that the card number
typed in opens the household. The second gives the page the two platform APIs it needs, a
BarcodeDetector that "sees" prepared QR texts and a camera made of a canvas, and checks what
static/scan.js does with them: asks for the back camera, ignores a code of another site, and
opens this site's card URL.
"""
from __future__ import annotations

import json
import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.domain.cards import card_url
from app.extensions import db
from app.models import AuditEntry
from tests.browser.conftest import PHONE, PHONE_WIDTH, log_in, page_width
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser

USERNAME = "scan_collector"
VILLAGE = "110101001001"


def translated(app, locale: str, text: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return _(text, **values)






@pytest.fixture
def household(live_server) -> dict[str, str]:
    """A collector of the live server's village (made once) and a new household there.
    (Head 孙建国: initials sjg, so no other browser test's search finds it.)"""
    from app.domain import registration
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User

    with live_server.app.app_context():
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == VILLAGE))
        user = db.session.scalar(select(User).where(User.username == USERNAME))
        if user is None:
            user = create_user(None, username=USERNAME, name="孙采集", password=PASSWORD, role=Role.collector,
                               unit=village)
        result = registration.new_household(user, unit_id=village.id, data=family("孙", seq=88), today=TODAY)
        h = result.household
        db.session.commit()
        return {"id": str(h.id), "card_no": h.card_no, "head": h.head_name}


def test_card_number_opens_the_household_without_barcode_detector(live_server, phone: Page, household,
                                                                   tmp_path):
    base, app = live_server.url, live_server.app
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    log_in(phone, base, USERNAME)
    phone.goto(f"{base}/collect/")
    phone.get_by_test_id("scan-card").click()
    phone.wait_for_url(f"{base}/c/scan")
    assert phone.evaluate("'BarcodeDetector' in window") is False, "this test is about a browser without it"
    expect(phone.get_by_test_id("scanner")).to_be_hidden()
    expect(phone.get_by_test_id("scan-unsupported")).to_be_visible()
    assert page_width(phone) <= PHONE_WIDTH
    phone.screenshot(path=str(tmp_path / "scan-360.png"), full_page=True)

    # A number no household has: the message next to the field, in Chinese; the page stays.
    phone.fill("#find-card-no", "9876")
    phone.get_by_test_id("find-submit").click()
    expect(phone.get_by_test_id("find-error")).to_have_text(translated(
        app, "zh_CN", "Card number: there is no household with card number %(card)s in %(village)s "
        "that you may open.", card="9876", village="多福巷社区"))
    expect(phone.locator("#find-card-no")).to_have_attribute("aria-invalid", "true")
    assert page_width(phone) <= PHONE_WIDTH

    phone.fill("#find-card-no", household["card_no"])
    phone.get_by_test_id("find-submit").click()
    phone.wait_for_url(f"{base}/collect/households/{household['id']}")
    expect(phone.locator("body")).to_contain_text(household["head"])
    assert errors == []


# The platform APIs the page needs, for a browser that lacks them: a detector that reports
# the prepared texts one call after the other (the last one again and again), and a camera
# that is a canvas. getUserMedia refuses anything but the back camera.
FAKE_PLATFORM = """
(function (texts) {
  var calls = 0;
  window.BarcodeDetector = class {
    constructor(options) { this.formats = options.formats; }
    static getSupportedFormats() { return Promise.resolve(["qr_code", "ean_13"]); }
    detect(source) {
      if (!(source instanceof HTMLVideoElement) || this.formats.indexOf("qr_code") < 0) {
        return Promise.reject(new Error("unexpected call"));
      }
      var text = texts[Math.min(calls++, texts.length - 1)];
      return Promise.resolve([{ format: "qr_code", rawValue: text }]);
    }
  };
  navigator.mediaDevices.getUserMedia = function (constraints) {
    if (!constraints.video || constraints.video.facingMode !== "environment") {
      return Promise.reject(new Error("not the back camera"));
    }
    var canvas = document.createElement("canvas");
    canvas.width = 320; canvas.height = 320;
    var ctx = canvas.getContext("2d"), n = 0;
    setInterval(function () { ctx.fillStyle = n++ % 2 ? "#333" : "#444"; ctx.fillRect(0, 0, 320, 320); }, 50);
    return Promise.resolve(canvas.captureStream(20));
  };
})(TEXTS);
"""


def test_camera_opens_this_sites_card_and_ignores_others(live_server, browser: Browser, household):
    base, app = live_server.url, live_server.app
    with app.app_context():
        ours = card_url(app.config["BASE_URL"], app.config["CARD_KEYS"], VILLAGE, household["card_no"])
    code = ours.rsplit("/", 1)[1]
    # Another site's URL with a genuine code, this site's URLs that are no card: all ignored.
    # (A well-formed code with a wrong tag is the server's to refuse: tests/test_cards.py.)
    ignored = [f"https://example.org/c/{code}", f"{base}/collect/", f"{base}/c/scan", "张建国"]
    texts = [t for t in ignored for _repeat in range(2)] + [ours]
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    context.add_init_script(FAKE_PLATFORM.replace("TEXTS", json.dumps(texts)))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        log_in(page, base, USERNAME)
        page.goto(f"{base}/c/scan")
        expect(page.get_by_test_id("scanner")).to_be_visible()
        expect(page.get_by_test_id("scan-unsupported")).to_be_hidden()
        expect(page.get_by_test_id("scan-status")).to_have_text(
            translated(app, "zh_CN", "This QR code is not a household card of this system."))
        assert page_width(page) <= PHONE_WIDTH
        page.wait_for_url(f"{base}/collect/households/{household['id']}")
        expect(page.locator("body")).to_contain_text(household["head"])
    finally:
        context.close()
    assert errors == []
    assert not [u for u in requested if "example.org" in u]
    assert requested.count(f"{base}/c/scan") == 1 and f"{base}/collect/" not in requested
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "card.scan")
                                   .order_by(AuditEntry.id.desc())).first()
        assert entry.details["outcome"] == "opened" and entry.object_id == household["id"]
        assert re.fullmatch(r"\d{4}", entry.details["card_no"])
