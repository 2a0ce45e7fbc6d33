"""The approval chain on a 360 px phone in real Chromium (issue 4's browser test): the collector
signs with a finger (touch events at a pixel ratio of 3) and submits; the village leader returns with a reason; the
collector sees it, fixes, signs and submits again; the leader confirms; the verifier verifies;
the timeline shows all of it."""
from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Household, Signature, WorkflowEvent
from tests.browser.conftest import PHONE_WIDTH, draw_signature, page_width, phone_logged_in
from tests.conftest import PASSWORD
from tests.support.households import TODAY, family

pytestmark = pytest.mark.browser

VILLAGE, TOWNSHIP = "110101001001", "110101001000"
USERS = {"wf_collector": ("collector", VILLAGE, "王采集"), "wf_leader": ("village_leader", VILLAGE, "赵村长"),
         "wf_verifier": ("verifier", TOWNSHIP, "钱审核")}


@pytest.fixture
def chain(live_server):
    """One user per role (made once) and a new complete household in the live server's village."""
    from app.domain import registration
    from app.domain.users import create_user
    from app.models import AdminUnit, Role, User

    with live_server.app.app_context():
        for username, (role, code, name) in USERS.items():
            if db.session.scalar(select(User).where(User.username == username)) is None:
                unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
                create_user(None, username=username, name=name, password=PASSWORD, role=Role(role), unit=unit)
        db.session.commit()
        collector = db.session.scalar(select(User).where(User.username == "wf_collector"))
        village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == VILLAGE))
        h = registration.new_household(collector, unit_id=village.id, data=family("钱", seq=77), today=TODAY).household
        db.session.commit()
        return str(h.id), h.card_no


def open_as(browser: Browser, base: str, username: str) -> Page:
    return phone_logged_in(browser, base, username, timeout_ms=10_000)[1]


def test_the_chain_on_a_phone(live_server, browser: Browser, chain):
    base, app = live_server.url, live_server.app
    household_id, card = chain
    shots = Path(os.environ.get("REVIEW_SHOTS", "/tmp/review_shots"))
    shots.mkdir(parents=True, exist_ok=True)

    # The collector: an empty pad is refused in the page; a drawn one is sent.
    col = open_as(browser, base, "wf_collector")
    col.goto(f"{base}/collect/households/{household_id}")
    col.get_by_test_id("submit").click()
    expect(col.get_by_test_id("signature-error")).to_be_visible()
    assert col.url.endswith(household_id)
    draw_signature(col, "submit-form")
    strokes = json.loads(col.locator("[data-testid=submit-form] input[name=strokes]").input_value())
    assert len(strokes) == 2 and all(0 <= x <= 1000 and 0 <= y <= 400 for s in strokes for x, y in s)
    assert all(isinstance(v, int) for s in strokes for p in s for v in p)
    # The pad's width on the screen does not matter: the points span the 1000 x 400 box.
    assert max(x for s in strokes for x, _y in s) > 800 and max(y for s in strokes for _x, y in s) > 320
    assert page_width(col) <= PHONE_WIDTH
    col.screenshot(path=str(shots / "1-collector-signed.png"), full_page=True)
    col.get_by_test_id("submit").click()
    col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
    expect(col.get_by_test_id("submit-form")).to_have_count(0)

    # The leader: the queue, the review page, a return with a reason.
    lead = open_as(browser, base, "wf_leader")
    expect(lead.get_by_test_id("waiting-village_leader")).to_contain_text("1")
    lead.goto(f"{base}/review/leader")
    lead.get_by_test_id(f"queue-{card}").locator("a").click()
    lead.wait_for_url(re.compile(rf".*/review/households/{household_id}$"))
    expect(lead.get_by_test_id("first-registration")).to_be_visible()
    # The ID numbers are masked, each with its check; one is revealed on demand (and audited).
    expect(lead.get_by_test_id("masked-id")).to_have_count(4)
    expect(lead.get_by_test_id("id-check").first).to_contain_text("身份证号码校验通过")
    lead.get_by_test_id("reveal-id").first.click()
    lead.wait_for_url(re.compile(rf".*/review/households/{household_id}/reveal$"))
    expect(lead.get_by_test_id("full-id")).to_have_count(1)
    expect(lead.get_by_test_id("full-id")).to_have_text(re.compile(r"^\d{17}[\dX]$"))
    expect(lead.get_by_test_id("masked-id")).to_have_count(3)
    assert page_width(lead) <= PHONE_WIDTH
    lead.get_by_test_id("reason-address_unclear").check()
    lead.fill("#reason_text", "门牌号请写全")
    assert page_width(lead) <= PHONE_WIDTH
    lead.screenshot(path=str(shots / "2-leader-review.png"), full_page=True)
    lead.get_by_test_id("return").click()
    lead.wait_for_url(re.compile(r".*/review/leader$"))

    # The collector: the reason on the list and on the household; fix, sign, submit again.
    col.goto(f"{base}/collect/")
    expect(col.get_by_test_id(f"returned-{card}")).to_contain_text("门牌号请写全")
    col.screenshot(path=str(shots / "3-collector-returned.png"), full_page=True)
    col.get_by_test_id(f"returned-{card}").locator("a").click()
    expect(col.get_by_test_id("return-reason")).to_contain_text("门牌号请写全")
    col.get_by_test_id("edit").click()
    col.wait_for_url(re.compile(r".*/edit$"))
    # The reason stays in sight on the form while it is fixed.
    expect(col.get_by_test_id("form-return-reason")).to_contain_text("门牌号请写全")
    expect(col.get_by_test_id("form-return-reason")).to_contain_text("赵村长")
    col.fill("#household-door_no", "幸福路77号")
    col.get_by_test_id("save-bar").click()
    col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
    # Saved: the message says it is a draft now and still has to be signed and submitted,
    # and the button under it leads there.
    expect(col.locator(".flash")).to_contain_text("现已变为草稿，还需签字并提交")
    col.get_by_test_id("go-sign-submit").click()
    draw_signature(col, "submit-form")
    # A double tap: both taps post; the answer is a success, not a red error.
    col.get_by_test_id("submit").dblclick()
    col.wait_for_url(re.compile(rf".*/collect/households/{household_id}$"))
    expect(col.get_by_test_id("submit-form")).to_have_count(0)
    expect(col.locator(".flash-error")).to_have_count(0)
    expect(col.locator(".flash")).to_contain_text("签字并提交")

    # The leader confirms with a signature.
    lead.goto(f"{base}/review/households/{household_id}")
    draw_signature(lead, "confirm-form")
    lead.get_by_test_id("confirm").click()
    lead.wait_for_url(re.compile(r".*/review/leader$"))

    # The verifier verifies (selected in the queue, one signature).
    ver = open_as(browser, base, "wf_verifier")
    ver.goto(f"{base}/review/verifier")
    # Found by its card number with the queue's filter (a phone's numeric keypad).
    ver.get_by_test_id("filter-card").fill(str(int(card)))
    assert page_width(ver) <= PHONE_WIDTH
    ver.get_by_test_id("filter-apply").click()
    ver.wait_for_url(re.compile(rf".*/review/verifier\?.*card_no={int(card)}"))
    expect(ver.get_by_test_id("queue").locator("li")).to_have_count(1)
    ver.get_by_test_id(f"pick-{card}").check()
    draw_signature(ver, "verify-many-form")
    assert page_width(ver) <= PHONE_WIDTH
    ver.screenshot(path=str(shots / "4-verifier-queue.png"), full_page=True)
    ver.get_by_test_id("verify-many").click()
    expect(ver.get_by_test_id("result")).to_have_count(1)
    expect(ver.locator("[data-testid=result][data-ok=yes]")).to_have_count(1)

    # The timeline shows all of it.
    col.goto(f"{base}/collect/households/{household_id}")
    history = col.get_by_test_id("history")
    expect(history.get_by_test_id("event")).to_have_count(5)
    expect(history.get_by_test_id("version")).to_have_count(2)
    expect(history.get_by_test_id("signature-image")).to_have_count(4)
    expect(history).to_contain_text("门牌号请写全")
    assert page_width(col) <= PHONE_WIDTH
    col.screenshot(path=str(shots / "5-timeline.png"), full_page=True)

    with app.app_context():
        h = db.session.get(Household, uuid.UUID(household_id))
        assert h.state == "verified"
        events = db.session.scalars(select(WorkflowEvent).where(WorkflowEvent.household_id == h.id)
                                    .order_by(WorkflowEvent.id)).all()
        assert [e.action for e in events] == ["submit", "return", "submit", "confirm", "verify"]
        sigs = db.session.scalars(select(Signature).join(WorkflowEvent, WorkflowEvent.signature_id == Signature.id)
                                  .where(WorkflowEvent.household_id == h.id)).all()
        assert len(sigs) == 4 and all("<path" in s.strokes_svg for s in sigs)
    for p in (col, lead, ver):
        p.context.close()
