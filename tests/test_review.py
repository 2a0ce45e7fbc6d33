"""The approval chain's screens over HTTP (both databases): the collector signs and submits,
the village leader returns and confirms, the verifier verifies one or many with one signature;
queues, counts in the header, the timeline, refusals that change nothing."""
from __future__ import annotations

import copy
import json
import re
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.domain import registration as reg
from app.domain import workflow
from app.extensions import db
from app.models import AuditEntry, Household, Signature, WorkflowEvent
from tests.support.households import TODAY, family
from tests.test_collect import fields, open_form

SIGN = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
STROKES = json.dumps(SIGN)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(h: Household) -> tuple:
    db.session.expire_all()
    h = db.session.get(Household, h.id)
    return (h.state, h.current_number, count(WorkflowEvent), count(Signature), count(AuditEntry))


def text(resp) -> str:
    return unescape(resp.get_data(as_text=True))


@pytest.fixture
def people(units, make_user, new_client):
    """A user per role for village A (township T1), each with a logged-in client."""
    out = SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a", name="采集员甲"),
        leader=make_user("village_leader", units["A"], username="leader_a", name="村干部乙"),
        verifier=make_user("verifier", units["T1"], username="verifier_t1", name="审核员丙"),
    )
    for role in ("collector", "leader", "verifier"):
        c = new_client()
        c.login(getattr(out, role).username)
        setattr(out, f"{role}_client", c)
    return out


def household(people, unit, seq: int = 1) -> Household:
    result = reg.new_household(people.collector, unit_id=unit.id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    return result.household


def submit(c, h: Household, strokes: str = STROKES):
    return c.post_form(f"/collect/households/{h.id}/submit",
                       {"version_number": str(h.current_number), "strokes": strokes})


def act(c, h: Household, action: str, **data):
    form = {"action": action, "version_number": str(h.current_number), **data}
    if action != "return":
        form.setdefault("strokes", STROKES)
    return c.post_form(f"/review/households/{h.id}/act", form)


def test_the_whole_chain_with_a_return_and_a_second_round(people, units):
    h = household(people, units["A"])
    cc, lc, vc = people.collector_client, people.leader_client, people.verifier_client

    # The collector sees "sign and submit" with the pad; the leader's header counts nothing yet.
    page = text(cc.get(f"/collect/households/{h.id}"))
    assert 'data-testid="submit-form"' in page and "data-signature-pad" in page
    assert 'name="version_number" value="1"' in page
    assert re.search(r'data-testid="waiting-village_leader">[^<]*[(（]0[)）]', text(lc.get("/")))

    resp = submit(cc, h)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/collect/households/{h.id}")
    db.session.refresh(h)
    assert h.state == "submitted"
    sig = db.session.scalar(select(Signature).where(Signature.role == "collector"))
    assert sig.signer_id == people.collector.id and sig.content_hash == h.current_version.content_hash
    assert sig.strokes_svg.startswith("<svg") and "<path" in sig.strokes_svg
    # Submitted: the collector has no submit button any more.
    assert 'data-testid="submit-form"' not in text(cc.get(f"/collect/households/{h.id}"))

    # The leader's queue lists it; the review page says "first registration" and offers both buttons.
    queue = text(lc.get("/review/leader"))
    assert f'data-testid="queue-{h.card_no}"' in queue and "采集员甲" in queue
    review = text(lc.get(f"/review/households/{h.id}"))
    assert 'data-testid="first-registration"' in review
    assert 'data-testid="confirm-form"' in review and 'data-testid="return-form"' in review
    assert 'data-testid="verify-form"' not in review
    assert "采集员甲" in review and "张建国" in review

    # The leader returns it with two reasons and text.
    resp = act(lc, h, "return", reason_codes=["wrong_id_number", "other"], reason_text="门牌号看不清")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/review/leader")
    db.session.refresh(h)
    assert h.state == "returned"

    # The collector sees it first on the list, with the reason; and on the household page.
    listing = text(cc.get("/collect/"))
    assert 'data-testid="returned"' in listing
    returned = listing[listing.index('data-testid="returned"'):listing.index('data-testid="search"')]
    assert h.card_no in returned and "门牌号看不清" in returned and "村干部乙" in returned
    page = text(cc.get(f"/collect/households/{h.id}"))
    assert 'data-testid="return-reason"' in page and "门牌号看不清" in page

    # Fixing: the edit makes version 2 (a draft), which is signed and submitted again.
    form_page, tokens = open_form(cc, f"/collect/households/{h.id}/edit")
    data = copy.deepcopy(h.current_version.data)
    data["household"]["door_no"] = "8号"
    resp = cc.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 302, text(resp)[:1000]
    db.session.refresh(h)
    assert (h.state, h.current_number) == ("draft", 2)
    assert submit(cc, h).status_code == 302
    db.session.refresh(h)
    assert h.state == "submitted"

    # The leader confirms with a signature; the verifier verifies.
    assert act(lc, h, "confirm").status_code == 302
    db.session.refresh(h)
    assert h.state == "confirmed"
    review = text(vc.get(f"/review/households/{h.id}"))
    assert 'data-testid="verify-form"' in review and 'data-testid="confirm-form"' not in review
    resp = act(vc, h, "verify")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/review/verifier")
    db.session.refresh(h)
    assert h.state == "verified" and h.last_verified_version_id == h.current_version_id

    events = list(db.session.scalars(select(WorkflowEvent).order_by(WorkflowEvent.id)))
    assert [(e.action, e.role, e.version.number) for e in events] == [
        ("submit", "collector", 1), ("return", "village_leader", 1), ("submit", "collector", 2),
        ("confirm", "village_leader", 2), ("verify", "verifier", 2)]
    assert events[1].reason_codes == ["wrong_id_number", "other"] and events[1].signature_id is None
    signatures = list(db.session.scalars(select(Signature).order_by(Signature.id)))
    assert [(s.role, s.version.number) for s in signatures] == [
        ("collector", 1), ("collector", 2), ("village_leader", 2), ("verifier", 2)]
    audited = [a.action for a in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
               if a.action.startswith("household.")]
    assert audited == ["household.create", "household.submit", "household.return", "household.edit",
                       "household.submit", "household.confirm", "household.verify"]

    # The timeline shows it all: 2 versions, 5 events, 4 drawn signatures, the reason.
    page = text(cc.get(f"/collect/households/{h.id}"))
    assert page.count('data-testid="version"') == 2
    assert page.count('data-testid="event"') == 5
    assert page.count('data-testid="signature-image"') == 4
    assert "门牌号看不清" in page and "审核员丙" in page
    # A later review page compares with the verified version: nothing changed.
    assert 'data-testid="first-registration"' not in text(vc.get(f"/review/households/{h.id}"))


def test_diff_against_the_last_verified_version(people, units):
    h = household(people, units["A"])
    for user, action in ((people.collector, "submit"), (people.leader, "confirm"), (people.verifier, "verify")):
        workflow.transition(user, h.id, action, version_number=h.current_number, strokes=SIGN)
        db.session.commit()
    data = copy.deepcopy(h.current_version.data)
    data["household"]["door_no"] = "99号"
    data["members"][3]["status"] = "moved_out"
    data["members"][3]["cancelled_on"] = "2026-11-01"
    reg.save_household(people.collector, h.id, data=data, base_number=h.current_number, today=TODAY)
    db.session.commit()
    review = text(people.leader_client.get(f"/review/households/{h.id}"))
    household_part = review[review.index('data-testid="diff-household"'):]
    household_part = household_part[:household_part.index("</ul>")]
    assert "1号" in household_part and "99号" in household_part
    members = review[review.index('data-testid="diff-members"'):]
    members = members[:members.index("</section>")]
    assert 'data-kind="cancelled"' in members and "张丽" in members


def test_leader_queue_oldest_first_with_counts_per_village(people, units, make_user, new_client):
    from app.domain.users import grant_role
    from app.models import Role
    leader_ab = make_user("village_leader", units["A"], username="leader_ab")
    grant_role(None, leader_ab, Role.village_leader, units["B"])
    db.session.commit()
    collector_b = make_user("collector", units["B"], username="collector_b")
    hs = []
    for seq, (who, unit) in enumerate([(people.collector, "A"), (collector_b, "B"), (people.collector, "A")], 1):
        result = reg.new_household(who, unit_id=units[unit].id, data=family(seq=seq), today=TODAY)
        db.session.commit()
        hs.append(result.household)
    # Submitted in the order: third, first, second.
    for i in (2, 0, 1):
        who = collector_b if hs[i].village_id == units["B"].id else people.collector
        workflow.submit(who, hs[i].id, version_number=1, strokes=SIGN)
        db.session.commit()
    c = people.leader_client  # leader of A only
    page = text(c.get("/review/leader"))
    order = [m for m in re.findall(r'data-testid="queue-(\d{4})"', page)]
    assert order == [hs[2].card_no, hs[0].card_no]
    assert "等待：2" in page or "Waiting: 2" in page

    lc = new_client()
    lc.login("leader_ab")
    page = text(lc.get("/review/leader"))
    keys = re.findall(r'data-testid="queue-(\d{4})"', page)
    assert len(keys) == 3 and keys[0] == hs[2].card_no
    villages = page[page.index('data-testid="villages"'):]
    assert "多福巷社区 (2)" in villages and "银闸社区 (1)" in villages
    # Filtered by village B: one.
    page = text(lc.get(f"/review/leader?village_id={units['B'].id}"))
    assert re.findall(r'data-testid="queue-(\d{4})"', page) == [hs[1].card_no]
    # The header counts three waiting for this leader.
    assert re.search(r'data-testid="waiting-village_leader">[^<]*3', page)


def test_bulk_verify_three_with_one_signature(people, units):
    hs = [household(people, units["A"], seq) for seq in (1, 2, 3)]
    for h in hs:
        workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
        workflow.confirm(people.leader, h.id, version_number=1, strokes=SIGN)
        db.session.commit()
    vc = people.verifier_client
    page = text(vc.get("/review/verifier"))
    for h in hs:
        assert f'value="{h.id}:1"' in page
    before = (count(Signature), count(WorkflowEvent))
    resp = vc.post_form("/review/verify", {"items": [f"{h.id}:1" for h in hs], "strokes": STROKES})
    assert resp.status_code == 200
    body = text(resp)
    assert body.count('data-ok="yes"') == 3
    assert (count(Signature), count(WorkflowEvent)) == (before[0] + 3, before[1] + 3)
    verify_sigs = list(db.session.scalars(select(Signature).where(Signature.role == "verifier")))
    assert len(verify_sigs) == 3 and len({s.version_id for s in verify_sigs}) == 3
    assert {db.session.get(Household, h.id).state for h in hs} == {"verified"}
    # Sending the same again (a double tap) verifies nothing more, and is no failure: each item
    # says it was already verified by this verifier.
    resp = vc.post_form("/review/verify", {"items": [f"{h.id}:1" for h in hs], "strokes": STROKES})
    body = text(resp)
    assert body.count('data-ok="yes"') == 3 and body.count('data-repeated="yes"') == 3
    assert 'data-ok="no"' not in body and "flash-warning" not in body
    assert (count(Signature), count(WorkflowEvent)) == (before[0] + 3, before[1] + 3)


def test_bulk_verify_without_signature_or_selection_changes_nothing(people, units):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    workflow.confirm(people.leader, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    before = snapshot(h)
    resp = people.verifier_client.post_form("/review/verify", {"items": [f"{h.id}:1"], "strokes": ""})
    assert resp.status_code == 422
    page = text(resp)
    assert 'data-testid="message"' in page and re.search(rf'value="{h.id}:1" id="[^"]+" checked', page)
    resp = people.verifier_client.post_form("/review/verify", {"strokes": STROKES})
    assert resp.status_code == 422
    assert snapshot(h) == before


def test_missing_signature_shows_the_error_and_changes_nothing(people, units):
    h = household(people, units["A"])
    before = snapshot(h)
    for strokes in ("", "[]", json.dumps([[[10, 10]]])):  # nothing, empty, a dot
        resp = submit(people.collector_client, h, strokes)
        assert resp.status_code == 422
        page = text(resp)
        assert 'data-testid="message"' in page and 'data-testid="submit-form"' in page
        error = page[page.index('data-testid="signature-error"'):]
        assert not error.split(">", 1)[0].endswith("hidden")
    assert snapshot(h) == before
    # The leader's confirm without a signature: the same.
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    before = snapshot(h)
    resp = act(people.leader_client, h, "confirm", strokes="")
    assert resp.status_code == 422 and 'data-testid="confirm-form"' in text(resp)
    assert snapshot(h) == before


def test_return_without_a_reason_is_refused_and_keeps_what_was_typed(people, units):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    before = snapshot(h)
    resp = act(people.leader_client, h, "return", reason_text="看一下")
    assert resp.status_code == 422
    page = text(resp)
    assert 'data-testid="message"' in page and "看一下" in page
    # "Other" without text: refused too, the tick kept.
    resp = act(people.leader_client, h, "return", reason_codes=["other"])
    assert resp.status_code == 422
    assert 'value="other" checked' in text(resp)
    assert snapshot(h) == before


def test_a_stale_version_number_is_a_conflict(people, units):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    before = snapshot(h)
    resp = people.leader_client.post_form(f"/review/households/{h.id}/act",
                                          {"action": "confirm", "version_number": "7", "strokes": STROKES})
    assert resp.status_code == 409 and 'data-testid="message"' in text(resp)
    assert snapshot(h) == before


def test_outsider_gets_404_and_changes_nothing(people, units, make_user, new_client):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    make_user("village_leader", units["B"], username="leader_b")
    c = new_client()
    c.login("leader_b")
    assert c.get(f"/review/households/{h.id}").status_code == 404
    before = snapshot(h)
    for action, extra in (("confirm", {}), ("return", {"reason_codes": ["other"], "reason_text": "x"})):
        assert act(c, h, action, **extra).status_code == 404
    assert submit(c, h).status_code == 404
    assert c.post_form("/review/verify", {"items": [f"{h.id}:1"], "strokes": STROKES}).status_code == 200
    assert snapshot(h) == before
    # Not in B's queue either.
    assert h.card_no not in re.findall(r'data-testid="queue-(\d{4})"', text(c.get("/review/leader")))


def test_the_verifier_may_not_confirm_and_the_leader_may_not_verify(people, units):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    before = snapshot(h)
    assert act(people.verifier_client, h, "confirm").status_code == 403
    assert act(people.leader_client, h, "verify").status_code in (403, 409)
    assert act(people.leader_client, h, "nonsense").status_code == 422
    assert snapshot(h) == before


def test_home_links_the_queues_and_the_header_counts(people, units):
    h = household(people, units["A"])
    workflow.submit(people.collector, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    home = text(people.leader_client.get("/"))
    assert 'data-testid="leader-queue"' in home
    assert re.search(r'data-testid="waiting-village_leader">[^<]*1', home)
    assert 'data-testid="waiting-verifier"' not in home
    home = text(people.verifier_client.get("/"))
    assert 'data-testid="verifier-queue"' in home
    assert re.search(r'data-testid="waiting-verifier">[^<]*0', home)
    workflow.return_household(people.leader, h.id, version_number=1, reason_codes=["address_unclear"])
    db.session.commit()
    home = text(people.collector_client.get("/"))
    assert re.search(r'data-testid="waiting-collector">[^<]*1', home)


# ------------------------------------------------------------------ issue 14: the chain as users met it

def flashes(page: str) -> list[tuple[str, str]]:
    """(category, text) of each flashed message on a page."""
    return [(c, unescape(re.sub(r"<[^>]+>", "", t)).strip())
            for c, t in re.findall(r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', page, re.S)]


def test_a_returned_household_shows_its_reason_on_the_form_until_it_is_submitted_again(people, units):
    h = household(people, units["A"])
    cc = people.collector_client
    assert submit(cc, h).status_code == 302
    assert act(people.leader_client, h, "return", reason_codes=["wrong_id_number", "address_unclear"],
               reason_text="门牌号看不清").status_code == 302
    form_page, tokens = open_form(cc, f"/collect/households/{h.id}/edit")
    box = form_page[form_page.index('data-testid="form-return-reason"'):]
    box = box[:box.index("</section>")]
    # The reasons' labels, the typed text, who returned it and when, on top of the form.
    assert "身份证号码错误" in box and "地址不清" in box and "门牌号看不清" in box
    assert "村干部乙" in box and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", box)
    assert form_page.index('data-testid="form-return-reason"') < form_page.index('id="household-form"')

    # The fix is saved: the message says it is a draft now and what is still to do, and the
    # household page has the button to it.
    data = copy.deepcopy(h.current_version.data)
    data["household"]["door_no"] = "8号"
    resp = cc.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    assert resp.status_code == 302
    page = text(cc.get(resp.headers["Location"]))
    [(category, message)] = flashes(page)
    assert category != "error"
    assert message == (f"户卡 {h.card_no} 已保存，信息完整。"
                       "此户原为“已退回”，现已变为草稿，还需签字并提交。"), message
    step = page[page.index('data-testid="next-step"'):]
    assert re.match(r'data-testid="next-step">[^<]*还需签字并提交', step)
    assert 'href="#submit-form" data-testid="go-sign-submit"' in step and 'id="submit-form"' in page
    # Still a draft answering the return: the reason stays on the form and the household page.
    assert 'data-testid="form-return-reason"' in text(cc.get(f"/collect/households/{h.id}/edit"))
    assert 'data-testid="return-reason"' in page

    # A second save of the draft: no state change to announce, but still what is next.
    form_page, tokens = open_form(cc, f"/collect/households/{h.id}/edit")
    data["household"]["door_no"] = "9号"
    db.session.refresh(h)
    resp = cc.post_form(f"/collect/households/{h.id}/edit", {**fields(data), **tokens})
    [(category, message)] = flashes(text(cc.get(resp.headers["Location"])))
    assert message == f"户卡 {h.card_no} 已保存，信息完整。还需签字并提交。"

    # Submitted again: the return is answered, the reason leaves the form and the page.
    db.session.refresh(h)
    assert submit(cc, h).status_code == 302
    db.session.refresh(h)
    assert h.state == "submitted"
    page = text(cc.get(f"/collect/households/{h.id}"))
    assert 'data-testid="return-reason"' not in page and 'data-testid="next-step"' not in page
    assert 'data-testid="form-return-reason"' not in text(cc.get(f"/collect/households/{h.id}/edit"))


def test_a_double_tap_on_each_step_is_one_event_and_two_successes(people, units):
    h = household(people, units["A"])
    # Two taps post the same form twice, one token, nothing read in between (fetching a token
    # renders a page, which would take the first answer's flash away).
    def submit_form(c, t):
        return c.post_form(f"/collect/households/{h.id}/submit",
                           {"version_number": "1", "strokes": STROKES, "csrf_token": t})

    steps = [(people.collector_client, submit_form, f"/collect/households/{h.id}", "签字并提交"),
             (people.leader_client, lambda c, t: act(c, h, "confirm", csrf_token=t), "/review/leader",
              "签字确认"),
             (people.verifier_client, lambda c, t: act(c, h, "verify", csrf_token=t), "/review/verifier",
              "签字审核")]
    for c, tap, lands_on, done in steps:
        before = count(WorkflowEvent)
        token = c.csrf_token()
        first, second = tap(c, token), tap(c, token)
        # Both answers are the same success: back to the list (or the household), no red message.
        assert first.status_code == second.status_code == 302
        assert first.headers["Location"].endswith(lands_on) and second.headers["Location"].endswith(lands_on)
        assert count(WorkflowEvent) == before + 1
        # What the phone shows after the second answer: a success that says it is done.
        page = text(c.get(lands_on))
        event = db.session.scalars(select(WorkflowEvent).order_by(WorkflowEvent.id.desc())).first()
        [(category, message)] = flashes(page)
        assert category == "message"
        assert message.startswith(f"户卡 {h.card_no} 已由您于 {workflow._when(event.at)} {done}"), message
        assert 'class="flash flash-error"' not in page
    db.session.refresh(h)
    assert h.state == "verified" and count(Signature) == 3

    # A return tapped twice: one event, both a success.
    h2 = household(people, units["A"], seq=2)
    submit(people.collector_client, h2)
    before = count(WorkflowEvent)
    token = people.leader_client.csrf_token()
    answers = [act(people.leader_client, h2, "return", reason_codes=["other"], reason_text="再看看",
                   csrf_token=token) for _i in range(2)]
    assert [a.status_code for a in answers] == [302, 302] and count(WorkflowEvent) == before + 1
    assert [c for c, _m in flashes(text(people.leader_client.get("/review/leader")))] == ["message"]


def test_a_step_another_user_took_first_is_still_an_error(people, units, make_user, new_client):
    h = household(people, units["A"])
    submit(people.collector_client, h)
    make_user("village_leader", units["A"], username="leader_a2", name="村干部戊")
    other = new_client()
    other.login("leader_a2")
    assert act(people.leader_client, h, "confirm").status_code == 302
    before = snapshot(h)
    resp = act(other, h, "confirm")
    assert resp.status_code == 409
    assert "已由 村干部乙 于" in text(resp) and 'class="flash flash-error"' in text(resp)
    assert snapshot(h) == before


def _with_bad_id(people, unit) -> tuple[Household, str]:
    """A draft whose third member's ID number has a wrong check digit (saved with an error)."""
    data = family(seq=3)
    good = data["members"][2]["id_number"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    data["members"][2]["id_number"] = bad
    result = reg.new_household(people.collector, unit_id=unit.id, data=data, today=TODAY)
    db.session.commit()
    return result.household, bad


def test_the_review_page_checks_masked_id_numbers(people, units):
    h, bad = _with_bad_id(people, units["A"])
    page = text(people.leader_client.get(f"/review/households/{h.id}"))
    checks = re.findall(r'data-testid="id-check" data-code="([^"]+)">([^<]*)<', page)
    assert [c for c, _t in checks] == ["id.ok", "id.ok", "id.checksum", "id.ok"]
    assert "身份证号码校验通过" in checks[0][1] and "身份证号码校验位错误" in checks[2][1]
    # Masked by default: no full number anywhere on the page.
    for p in h.persons:
        assert p.id_number not in page
    assert page.count('data-testid="masked-id"') == 4 and 'data-testid="full-id"' not in page
    # A birth date that disagrees with the number is named too, without showing the number's date.
    from app.domain import id_numbers
    person = h.persons[0]
    person.birth_date = person.birth_date.replace(day=2)
    assert id_numbers.check(person, TODAY).code == "id.birth_date_mismatch"
    assert id_numbers.check(person, TODAY).zh == "与出生日期不一致"
    db.session.rollback()


def test_a_reviewer_reveals_one_full_number_and_it_is_audited(people, units, make_user, new_client):
    h, bad = _with_bad_id(people, units["A"])
    person = h.persons[2]
    other = h.persons[0]
    for user, c in ((people.leader, people.leader_client), (people.verifier, people.verifier_client)):
        page = text(c.get(f"/review/households/{h.id}"))
        assert page.count('data-testid="reveal-id"') == 4
        before = count(AuditEntry)
        resp = c.post_form(f"/review/households/{h.id}/reveal", {"person_id": str(person.id)})
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
        page = text(resp)
        assert re.search(rf'data-testid="full-id">{bad}<', page)
        assert other.id_number not in page  # only the one asked for
        assert count(AuditEntry) == before + 1
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.actor_id, entry.object_type, entry.object_id) == (
            "person.id_number_reveal", user.id, "person", str(person.id))
        assert entry.details["household_id"] == str(h.id) and entry.details["card_no"] == h.card_no
        assert entry.at is not None and bad not in json.dumps(entry.details)

    make_user("village_leader", units["B"], username="leader_b")
    outsider = new_client()
    outsider.login("leader_b")
    make_user("viewer", units["A"], username="viewer_a")
    viewer = new_client()
    viewer.login("viewer_a")
    h2 = household(people, units["A"], seq=5)
    before = count(AuditEntry, AuditEntry.action == "person.id_number_reveal")
    # Out of scope: the household does not exist for them; nothing is recorded.
    resp = outsider.post_form(f"/review/households/{h.id}/reveal", {"person_id": str(person.id)})
    assert resp.status_code == 404 and bad not in text(resp)
    # In scope but not a reviewer (the collector, a viewer): refused, and no button.
    for c in (people.collector_client, viewer):
        resp = c.post_form(f"/review/households/{h.id}/reveal", {"person_id": str(person.id)})
        assert resp.status_code == 403 and bad not in text(resp)
    assert 'data-testid="reveal-id"' not in text(viewer.get(f"/review/households/{h.id}"))
    # A person of another household, or no person: not found.
    for pid in (str(h2.persons[0].id), "nonsense"):
        resp = people.leader_client.post_form(f"/review/households/{h.id}/reveal", {"person_id": pid})
        assert resp.status_code == 404
    assert count(AuditEntry, AuditEntry.action == "person.id_number_reveal") == before == 2


def _confirmed(who, unit, seq: int, people) -> Household:
    result = reg.new_household(who, unit_id=unit.id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    h = result.household
    workflow.submit(who, h.id, version_number=1, strokes=SIGN)
    db.session.commit()
    return h


def test_the_verifiers_queue_filters_by_village_collector_and_card(people, units, make_user):
    second = make_user("collector", units["A"], username="collector_a2", name="采集员丁")
    collector_b = make_user("collector", units["B"], username="collector_b", name="采集员戊")
    leader_b = make_user("village_leader", units["B"], username="leader_b")
    a1 = _confirmed(people.collector, units["A"], 1, people)
    a2 = _confirmed(second, units["A"], 2, people)
    b1 = _confirmed(collector_b, units["B"], 3, people)
    for h, leader in ((a1, people.leader), (a2, people.leader), (b1, leader_b)):
        workflow.confirm(leader, h.id, version_number=1, strokes=SIGN)
        db.session.commit()
    vc = people.verifier_client

    def listed(url: str) -> list[str]:
        resp = vc.get(url)
        assert resp.status_code == 200, url
        return re.findall(r'data-testid="queue-(\d{4})"', text(resp))

    assert len(listed("/review/verifier")) == 3
    page = text(vc.get("/review/verifier"))
    at = page.index('data-testid="queue-filter"')
    form = page[at:page.index("</form>", at)]
    assert 'method="get"' in page[at - 200:at]
    assert "采集员甲 (1)" in form and "采集员丁 (1)" in form and "采集员戊 (1)" in form
    assert listed(f"/review/verifier?village_id={units['B'].id}") == [b1.card_no]
    assert listed(f"/review/verifier?collector_id={second.id}") == [a2.card_no]
    assert listed(f"/review/verifier?collector_id={second.id}&village_id={units['B'].id}") == []
    # Card numbers are per village: "1" finds card 0001 of every village in the queue.
    assert sorted(listed(f"/review/verifier?card_no={int(a1.card_no)}")) == sorted(
        h.card_no for h in (a1, a2, b1) if h.card_no == a1.card_no)
    assert listed(f"/review/verifier?card_no={a1.card_no}&village_id={units['A'].id}") == [a1.card_no]
    # Bad input: said, naming the field; the list shown unfiltered by it; never a 500.
    resp = vc.get("/review/verifier?card_no=12ab")
    assert resp.status_code == 422
    assert "户卡编号：" in text(resp) and len(re.findall(r'data-testid="queue-(\d{4})"', text(resp))) == 3
    assert vc.get("/review/verifier?collector_id=x&village_id=y").status_code == 200

    # Verify many on the filtered list: the filters travel with the selection.
    page = text(vc.get(f"/review/verifier?collector_id={second.id}"))
    assert re.search(rf'<input type="hidden" name="collector_id" value="{second.id}">', page)
    # A refusal (no signature) shows the same filtered list again.
    resp = vc.post_form("/review/verify", {"items": [f"{a2.id}:1"], "strokes": "",
                                           "collector_id": str(second.id)})
    assert resp.status_code == 422
    assert re.findall(r'data-testid="queue-(\d{4})"', text(resp)) == [a2.card_no]
    resp = vc.post_form("/review/verify", {"items": [f"{a2.id}:1"], "strokes": STROKES,
                                           "collector_id": str(second.id)})
    assert resp.status_code == 200 and text(resp).count('data-ok="yes"') == 1
    assert f'href="/review/verifier?collector_id={second.id}" data-testid="back-to-queue"' in text(resp)
    db.session.expire_all()
    states = [db.session.get(Household, h.id).state for h in (a1, a2, b1)]
    assert states == ["confirmed", "verified", "confirmed"]
    assert len(listed("/review/verifier")) == 2
