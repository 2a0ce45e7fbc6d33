"""Signed card codes and the /c/ routes (DESIGN.md §6).

The code functions are checked on their own (round trip, every one-character change, key
ids, rotation and revocation); the routes through real HTTP on both databases: who lands on
which household page, what everyone else sees (no personal data, not even whether the
household exists), one audit entry per scan, and the card number typed in.
"""
from __future__ import annotations

import json
import re
import string
from html import unescape

import pytest
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.domain import audit, cards
from app.domain import registration as reg
from app.domain.cards import CardRef, card_code, card_url, read_card_code
from app.extensions import db
from app.models import AuditEntry, Household, ScanCount
from tests.support.households import TODAY, family

S1 = "first-card-secret-" + "a" * 32
S2 = "second-card-secret-" + "b" * 32
VILLAGE = "110101001001"
# Every character a code could plausibly be changed into.
ALPHABET = string.ascii_letters + string.digits + "-_./~%"


# ------------------------------------------------------------------ the code on its own

def test_code_round_trip_and_format():
    code = card_code({"1": S1}, VILLAGE, "0042")
    match = re.fullmatch(r"(\d{12})-(\d{4})\.(.+)", code)
    assert match and match.group(1) == VILLAGE and match.group(2) == "0042"
    tag = match.group(3)
    assert tag[:-11] == "1" and re.fullmatch(r"[A-Za-z0-9_-]{11}", tag[-11:])
    assert read_card_code({"1": S1}, code) == CardRef(VILLAGE, "0042", "1")
    # Deterministic (a reprinted card carries the same code) and specific to the card.
    assert card_code({"1": S1}, VILLAGE, "0042") == code
    assert card_code({"1": S1}, VILLAGE, "0043")[-11:] != code[-11:]
    url = card_url("https://hukou.example.cn/", {"1": S1}, VILLAGE, "0042")
    assert url == f"https://hukou.example.cn/c/{code}"


def test_every_one_character_change_is_invalid():
    keys = {"1": S1}
    code = card_code(keys, VILLAGE, "0042")
    tried = 0
    for i, original in enumerate(code):
        for c in ALPHABET:
            if c != original:
                assert read_card_code(keys, code[:i] + c + code[i + 1:]) is None, (i, c)
                tried += 1
        assert read_card_code(keys, code[:i] + code[i + 1:]) is None  # a character dropped
        assert read_card_code(keys, code[:i] + "0" + code[i:]) is None  # one added
    assert tried > 30 * 60
    for bad in ("", " " + code, code + " ", code.upper(), code + "/", f"{VILLAGE}-0042"):
        assert read_card_code(keys, bad) is None


def test_unknown_key_id_and_the_key_id_is_signed_too():
    code = card_code({"9": S1}, VILLAGE, "0042")
    assert code.split(".")[1].startswith("9")
    assert read_card_code({"1": S1}, code) is None  # same secret, but key 9 is not known
    # Two key ids sharing a secret: relabelling a code's key id still breaks it.
    both = {"1": S1, "2": S1}
    relabelled = code.replace(".9", ".2", 1)
    assert read_card_code(both, card_code(both, VILLAGE, "0042")) == CardRef(VILLAGE, "0042", "1")
    assert read_card_code(both, relabelled) is None


def test_key_rotation_and_revocation():
    old = card_code({"1": S1}, VILLAGE, "0042")
    rotated = {"2": S2, "1": S1}
    assert read_card_code(rotated, old) == CardRef(VILLAGE, "0042", "1")
    new = card_code(rotated, VILLAGE, "0042")
    assert new.split(".")[1][:-11] == "2" and new != old
    assert read_card_code(rotated, new) == CardRef(VILLAGE, "0042", "2")
    revoked = {"2": S2}
    assert read_card_code(revoked, old) is None
    assert read_card_code(revoked, new) == CardRef(VILLAGE, "0042", "2")


@pytest.mark.parametrize("keys,village,card_no", [
    ({}, VILLAGE, "0042"), ({"1": S1}, "11010100100", "0042"), ({"1": S1}, VILLAGE, "42"),
    ({"1": S1}, VILLAGE, "004a"), ({"Key1": S1}, VILLAGE, "0042"), ({"1": S1}, "١١٠١٠١٠٠١٠٠١", "0042"),
])
def test_codes_are_made_only_from_well_formed_parts(keys, village, card_no):
    with pytest.raises(ValueError):
        card_code(keys, village, card_no)


# ------------------------------------------------------------------ over HTTP

def page(resp) -> str:
    return unescape(resp.get_data(as_text=True))


def scans() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "card.scan")
                                   .order_by(AuditEntry.id)))


def scan_counts() -> dict[str, int]:
    """Anonymous scans counted per outcome (written by the access log's flush)."""
    db.session.commit()  # SQLite: the flush waits for the write turn this session may hold
    current_app.extensions["access_log"].flush()
    return dict(db.session.execute(select(ScanCount.outcome, func.sum(ScanCount.count))
                                   .group_by(ScanCount.outcome)).all())


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def translated(app, locale: str, text: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return _(text, **values)


def personal(h: Household) -> list[str]:
    """What must never show to someone outside the household's area."""
    values = [p.name for p in h.persons] + [p.id_number for p in h.persons if p.id_number]
    return values + [h.door_no, str(h.id)]


def url_of(app, h: Household) -> str:
    return "/c/" + card_code(app.config["CARD_KEYS"], h.village.code, h.card_no)


@pytest.fixture
def homes(units, make_user):
    """Households made through the registration domain: A 0001 (village level), A 0002 in
    group A2, B 0001 and B 0002 (village B has two, village A's 0003 does not exist)."""
    maker_a = make_user("collector", units["A"], username="maker_a", name="采集员甲")
    maker_b = make_user("collector", units["B"], username="maker_b", name="采集员乙")

    def new(maker, unit, surname: str, seq: int, group=None) -> Household:
        data = family(surname, seq=seq)
        if group is not None:
            data["household"]["group_code"] = group.code
        result = reg.new_household(maker, unit_id=unit.id, data=data, today=TODAY)
        db.session.commit()
        return result.household

    return {"A1": new(maker_a, units["A"], "张", 1), "A2": new(maker_a, units["A"], "王", 2, units["A2"]),
            "B1": new(maker_b, units["B"], "赵", 3), "B2": new(maker_b, units["B"], "钱", 4)}


@pytest.fixture
def as_user(make_user, new_client):
    """as_user(role, unit) -> a client logged in as a new user of that role and unit."""
    def make(role: str, unit, **kw):
        user = make_user(role, unit, **kw)
        c = new_client()
        c.login(user.username)
        return c
    return make


def test_collector_in_scope_opens_the_collect_page(app, units, homes, as_user):
    collector = as_user("collector", units["A"])
    h = homes["A2"]
    before = audit_count()
    resp = collector.get(url_of(app, h))
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/collect/households/{h.id}"
    assert collector.get(resp.headers["Location"]).status_code == 200
    assert audit_count() == before + 1
    entry = scans()[-1]
    assert (entry.object_type, entry.object_id) == ("household", str(h.id))
    assert entry.actor_id is not None
    assert entry.details == {"outcome": "opened", "key_id": "1", "village": units["A"].code,
                             "card_no": h.card_no, "address": "127.0.0.1"}
    assert audit.verify_chain().ok


@pytest.mark.parametrize("role,unit", [("village_leader", "A"), ("verifier", "T1"), ("clerk", "T1"),
                                       ("viewer", "county"), ("county_admin", "county")])
def test_other_roles_in_scope_open_the_review_page(app, units, homes, as_user, role, unit):
    c = as_user(role, units[unit])
    h = homes["A1"]
    resp = c.get(url_of(app, h))
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/review/households/{h.id}"
    shown = c.get(resp.headers["Location"])
    assert shown.status_code == 200 and h.head_name in page(shown)
    assert scans()[-1].details["outcome"] == "opened"


def test_outside_the_area_a_valid_card_says_no_more(app, units, homes, as_user):
    other = as_user("collector", units["B"], name="采集员丙")
    group_a1 = as_user("collector", units["A1"], name="采集员丁")
    village_a = units["A"].name
    pairs = [(other, homes["A1"]), (other, homes["A2"]), (group_a1, homes["A2"]), (group_a1, homes["A1"])]
    for client, h in pairs:
        before = audit_count()
        resp = client.get(url_of(app, h))
        assert resp.status_code == 200
        text = page(resp)
        assert 'data-testid="card-valid"' in text
        assert translated(app, "zh_CN", "Valid card of %(village)s, number %(card)s.",
                          village=village_a, card=h.card_no) in text
        for value in personal(h):
            assert value not in text, value
        assert 'data-testid="card-login"' not in text  # signed in already
        assert audit_count() == before + 1
        entry = scans()[-1]
        assert entry.object_id is None and entry.details["outcome"] == "valid"
        assert (entry.details["village"], entry.details["card_no"]) == (units["A"].code, h.card_no)


def without_tokens(html: str) -> str:
    """The page without its CSRF tokens (the form field and the header's meta tag), which
    differ between two requests a second apart."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'name="csrf-token" content="[^"]*"', "", html)


def test_anonymous_sees_a_valid_card_and_not_whether_the_household_exists(app, units, homes, client):
    h = homes["A1"]
    url = url_of(app, h)
    existing = client.get(url)
    assert existing.status_code == 200
    text = page(existing)
    for value in personal(h):
        assert value not in text, value
    assert units["A"].name in text and h.card_no in text
    assert 'data-testid="card-login"' in text
    # Card 0003 of village A was never given to a household: the page is the same but for the card.
    code_0003 = card_code(app.config["CARD_KEYS"], units["A"].code, "0003")
    missing = client.get("/c/" + code_0003)
    assert missing.status_code == 200
    same = without_tokens(page(missing)).replace(code_0003, url[len("/c/"):]).replace("0003", "0001")
    assert same == without_tokens(text)
    # Anonymous scans are counted per day, address and outcome, not written one row each.
    assert scans() == []
    assert scan_counts() == {"valid": 2}


def test_anonymous_logs_in_from_the_card_and_lands_on_the_household(app, units, homes, client, make_user):
    make_user("collector", units["A"], username="li")
    h = homes["A1"]
    url = url_of(app, h)
    text = page(client.get(url))
    login = re.search(r'href="([^"]+)" data-testid="card-login"', text).group(1)
    assert login.startswith("/login?next=")
    form = page(client.get(login))
    assert f'name="next" value="{url}"' in form
    resp = client.post_form("/login", {"username": "li", "password": "correct horse battery", "next": url})
    assert resp.headers["Location"] == url
    resp = client.get(url)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/collect/households/{h.id}"


def test_a_card_of_a_village_unknown_here_is_valid_by_its_code(app, client):
    code = card_code(app.config["CARD_KEYS"], "440305001001", "0007")
    resp = client.get(f"/c/{code}")
    assert resp.status_code == 200
    assert translated(app, "zh_CN", "Valid card of %(village)s, number %(card)s.",
                      village="440305001001", card="0007") in page(resp)


def test_forged_and_malformed_codes_are_not_valid_cards(app, units, homes, client, as_user):
    collector = as_user("collector", units["A"])
    genuine = url_of(app, homes["A1"])
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    other_card = genuine.replace(f"-{homes['A1'].card_no}.", "-0002.")  # a tag moved to another card
    long_junk = "/c/" + "x" * 200
    junk = (forged, other_card, long_junk, "/c/hello", "/c/110101001001-0001", "/c/a/b/c")
    for c in (client, collector):
        for url in junk:
            before = audit_count()
            resp = c.get(url)
            assert resp.status_code == 404, url
            text = page(resp)
            assert 'data-testid="card-invalid"' in text
            assert translated(app, "zh_CN", "Not a valid card") in text
            assert homes["A1"].head_name not in text
            if c is client:  # anonymous: counted, no audit row (a flood of junk scans floods nothing)
                assert audit_count() == before
                continue
            assert audit_count() == before + 1
            entry = scans()[-1]
            assert entry.details["outcome"] == "invalid" and entry.object_id is None
            assert entry.details["code"] == url[len("/c/"):][:64]
            assert "village" not in entry.details and "card_no" not in entry.details
    assert scans()[-1].actor_id is not None  # the signed-in scanner is named
    assert scan_counts() == {"invalid": len(junk)}


def test_rotation_and_revocation_over_http(app, units, homes, as_user):
    collector = as_user("collector", units["A"])
    h = homes["A1"]
    target = f"/collect/households/{h.id}"
    s1 = app.config["CARD_KEYS"]["1"]
    old = url_of(app, h)
    app.config["CARD_KEYS"] = {"2": S2, "1": s1}
    new = url_of(app, h)
    assert new != old and new.split(".")[1].startswith("2")
    assert collector.get(old).headers["Location"] == target
    assert collector.get(new).headers["Location"] == target
    assert scans()[-2].details["key_id"] == "1" and scans()[-1].details["key_id"] == "2"
    app.config["CARD_KEYS"] = {"2": S2}  # key 1 revoked
    assert collector.get(old).status_code == 404
    assert collector.get(new).headers["Location"] == target
    assert [e.details["outcome"] for e in scans()] == ["opened", "opened", "invalid", "opened"]


# ------------------------------------------------------------------ the old card of a household that moved


@pytest.fixture
def moved(app, units, homes, make_user):
    """A's 0002 (group A2) moved to village B on 2026-06-01, where it is card 0003 now; returns
    the URL of its old card."""
    import datetime as dt

    from app.domain import events

    h = homes["A2"]
    old_url = url_of(app, h)
    transfer = events.request_transfer(make_user("collector", units["A"], username="mover_a"), h.id,
                                       to_unit_id=units["B"].id, occurred_on=dt.date(2026, 6, 1), today=TODAY)
    events.decide_transfer(make_user("village_leader", units["B"], username="leader_b"), transfer.id, accept=True,
                           today=TODAY)
    db.session.commit()
    db.session.refresh(h)
    assert (h.village_id, h.card_no) == (units["B"].id, "0003")
    return old_url


def moved_text(app, units) -> str:
    return translated(app, "zh_CN", "Card %(card)s of %(village)s is no longer in use: the household moved to "
                      "%(to_village)s on %(date)s. Its new card number is %(to_card)s.", card="0002",
                      village=units["A"].name, to_village=units["B"].name, date="2026-06-01", to_card="0003")


def test_the_old_card_of_a_moved_household_tells_its_new_collector_and_opens_it(app, units, homes, moved, as_user):
    h = homes["A2"]
    collector_b = as_user("collector", units["B"])
    before = audit_count()
    resp = collector_b.get(moved)
    assert resp.status_code == 200
    text = page(resp)
    assert 'data-testid="card-moved"' in text and moved_text(app, units) in text
    link = re.search(r'href="([^"]+)" data-testid="card-moved-open"', text).group(1)
    assert link == f"/collect/households/{h.id}" and collector_b.get(link).status_code == 200
    assert audit_count() == before + 1
    entry = scans()[-1]
    assert (entry.object_type, entry.object_id) == ("household", str(h.id))
    assert entry.details == {"outcome": "moved", "key_id": "1", "village": units["A"].code, "card_no": "0002",
                             "address": "127.0.0.1", "to_village": units["B"].code, "to_card_no": "0003"}
    # A reviewer of the new place lands on the review page; the new card opens the household.
    leader_b = as_user("village_leader", units["B"])
    assert f'href="/review/households/{h.id}"' in page(leader_b.get(moved))
    assert collector_b.get(url_of(app, h)).headers["Location"] == f"/collect/households/{h.id}"
    assert audit.verify_chain().ok


def test_the_old_village_learns_where_the_household_went_and_no_more(app, units, homes, moved, as_user):
    h = homes["A2"]
    leader_a = as_user("village_leader", units["A"])
    resp = leader_a.get(moved)
    assert resp.status_code == 200
    text = page(resp)
    assert 'data-testid="card-moved"' in text and moved_text(app, units) in text
    assert 'data-testid="card-moved-open"' not in text
    for value in personal(h):
        assert value not in text, value
    entry = scans()[-1]
    assert entry.details["outcome"] == "moved" and entry.object_id is None


def test_to_anyone_else_the_old_card_is_just_a_valid_card(app, units, homes, moved, as_user, client):
    h = homes["A2"]
    never_issued = "/c/" + card_code(app.config["CARD_KEYS"], units["A"].code, "0009")
    for c in (as_user("collector", units["C"]), as_user("collector", units["A1"]), client):
        resp = c.get(moved)
        assert resp.status_code == 200
        text = page(resp)
        assert 'data-testid="card-valid"' in text and 'data-testid="card-moved"' not in text
        for value in personal(h) + [units["B"].name]:
            assert value not in text, value
        # The same page as for a card never given to anyone: nothing tells that the household moved.
        other = page(c.get(never_issued))
        same = without_tokens(other).replace(never_issued[len("/c/"):], moved[len("/c/"):]).replace("0009", "0002")
        assert same == without_tokens(text)
        if c is not client:
            assert [e.details["outcome"] for e in scans()[-2:]] == ["valid", "valid"]
    assert scan_counts() == {"valid": 2}


def test_a_typed_old_card_number_says_where_the_household_went(app, units, homes, moved, as_user):
    """The same rule as the scanned old card: its new place and the whole village it left are
    told; a collector of one group of the old village gets the usual "no such household"."""
    for who in (as_user("village_leader", units["A"]), as_user("collector", units["A"])):
        resp = who.get("/c/scan", query_string={"village": units["A"].code, "card_no": "2"})
        assert resp.status_code == 404 and moved_text(app, units) in page(resp)
    group_a1 = as_user("collector", units["A1"])
    resp = group_a1.get("/c/scan", query_string={"village": units["A"].code, "card_no": "2"})
    assert resp.status_code == 404 and units["B"].name not in page(resp)


# ------------------------------------------------------------------ the card number typed in

def test_collector_home_offers_scan_and_card_number(units, homes, as_user):
    collector = as_user("collector", units["A"])
    text = page(collector.get("/collect/"))
    assert 'href="/c/scan" data-testid="scan-card"' in text
    form = text[text.index('data-testid="find-card"'):]
    form = form[:form.index("</form>")]
    assert f'type="hidden" name="village" value="{units["A"].code}"' in form  # one village: no choice
    assert 'name="card_no"' in form


def test_scan_page_and_card_number_in_scope(app, units, homes, as_user):
    collector = as_user("collector", units["A"])
    resp = collector.get("/c/scan")
    assert resp.status_code == 200
    text = page(resp)
    assert 'id="scanner"' in text and "scan.js" in text and 'name="card_no"' in text
    # BASE_URL's card prefix, and the same under the address the page was asked for.
    raw = resp.get_data(as_text=True)
    prefixes = json.loads(unescape(re.search(r'data-prefixes="([^"]*)"', raw).group(1)))
    assert prefixes == ["http://testserver/c/", "http://localhost/c/"]
    before = audit_count()
    for card_no in ("0002", "2", " 02 "):
        resp = collector.get("/c/scan", query_string={"village": units["A"].code, "card_no": card_no})
        assert resp.status_code == 302 and resp.headers["Location"] == f"/collect/households/{homes['A2'].id}"
    # One village: it may be left out.
    resp = collector.get("/c/scan", query_string={"card_no": "1"})
    assert resp.headers["Location"] == f"/collect/households/{homes['A1'].id}"
    assert audit_count() == before  # typing a number is not a scan


def test_card_number_of_another_village_or_area_is_refused_without_a_leak(app, units, homes, as_user):
    collector = as_user("collector", units["A"])
    group_a1 = as_user("collector", units["A1"])
    # Village A has no card 0003; village B has, and the collector of A may not look in B.
    missing = collector.get("/c/scan", query_string={"village": units["A"].code, "card_no": "0003"})
    assert missing.status_code == 404
    message = translated(app, "zh_CN", "Card number: there is no household with card number %(card)s in "
                         "%(village)s that you may open.", card="0003", village=units["A"].name)
    text = page(missing)
    assert message in text and 'aria-invalid="true"' in text and 'value="0003"' in text
    other = collector.get("/c/scan", query_string={"village": units["B"].code, "card_no": "0002"})
    assert other.status_code == 422
    assert translated(app, "zh_CN", "Village: choose one of your villages.") in page(other)
    for value in personal(homes["B2"]):
        assert value not in page(other)
    # A household of the village outside the collector's group reads exactly as a missing one.
    out_of_group = group_a1.get("/c/scan", query_string={"village": units["A"].code, "card_no": "0002"})
    absent = group_a1.get("/c/scan", query_string={"village": units["A"].code, "card_no": "0009"})
    assert (out_of_group.status_code, absent.status_code) == (404, 404)
    assert (without_tokens(page(out_of_group)).replace("0002", "0009")
            == without_tokens(page(absent)))
    for value in personal(homes["A2"]):
        assert value not in page(out_of_group)
    # A1's collector sees group A1 only: village A's household 0001 (in no group) is not theirs.
    assert group_a1.get("/c/scan", query_string={"card_no": "0001"}).status_code == 404


def test_card_number_must_be_digits_and_the_message_is_in_the_users_language(app, units, homes, as_user):
    collector = as_user("collector", units["A"])
    resp = collector.get("/c/scan", query_string={"village": units["A"].code, "card_no": "12a"})
    assert resp.status_code == 422
    zh = translated(app, "zh_CN", "Card number: enter the number printed on the card, up to 4 digits.")
    assert zh in page(resp)
    collector.post_form("/language", {"locale": "en", "next": "/c/scan"})
    resp = collector.get("/c/scan", query_string={"village": units["A"].code, "card_no": "00001"})
    assert resp.status_code == 422
    assert "Card number: enter the number printed on the card, up to 4 digits." in page(resp)


def test_verifier_chooses_among_the_townships_villages(app, units, homes, as_user):
    verifier = as_user("verifier", units["T1"])
    text = page(verifier.get("/c/scan"))
    select_html = text[text.index('id="find-village"'):]
    select_html = select_html[:select_html.index("</select>")]
    assert units["A"].name in select_html and units["B"].name in select_html
    assert units["C"].name not in select_html  # township T2
    resp = verifier.get("/c/scan", query_string={"village": units["B"].code, "card_no": "0002"})
    assert resp.headers["Location"] == f"/review/households/{homes['B2'].id}"
    # Two villages: the number alone does not say which household.
    resp = verifier.get("/c/scan", query_string={"card_no": "0002"})
    assert resp.status_code == 422


def test_very_many_villages_are_typed_by_code(app, units, homes, as_user, monkeypatch):
    monkeypatch.setattr(cards, "MAX_VILLAGE_CHOICES", 2)
    admin = as_user("county_admin", units["county"])  # villages A, B and C
    text = page(admin.get("/c/scan"))
    assert 'name="village" value="" inputmode="numeric" pattern="[0-9]{12}"' in text
    assert "<select" not in text[text.index('data-testid="find-card"'):]
    resp = admin.get("/c/scan", query_string={"village": units["B"].code, "card_no": "1"})
    assert resp.headers["Location"] == f"/review/households/{homes['B1'].id}"
