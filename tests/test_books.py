"""Books of household cards (both databases): slots fixed at first printing, print jobs run by
the task queue (immediately, in tests), the clerk's screens, reprints of changed cards and of
one card, the command line. The PDFs are real WeasyPrint output, read back with pypdf."""
from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape
from types import SimpleNamespace

import pypdf
import pytest
from sqlalchemy import func, select

from app.domain import books
from app.domain import registration as reg
from app.extensions import db
from app.models import AuditEntry, BookSlot, Household, PrintJob
from tests.support.households import TODAY, family


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def text(resp) -> str:
    return unescape(resp.get_data(as_text=True))


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def people(units, make_user, new_client):
    out = SimpleNamespace(
        collector=make_user("collector", units["A"], username="collector_a"),
        clerk=make_user("clerk", units["T1"], username="clerk_t1", name="打印员"),
    )
    out.clerk_client = new_client()
    out.clerk_client.login("clerk_t1")
    return out


def add(people, unit, seq: int, door: str | None = None, surname: str = "张") -> Household:
    data = family(surname=surname, seq=seq)
    data["household"]["door_no"] = door or f"{seq}号"
    result = reg.new_household(people.collector, unit_id=unit.id, data=data, today=TODAY)
    db.session.commit()
    return result.household


def slots(village) -> list[tuple[str, int, int, int]]:
    db.session.expire_all()
    # The card number the book carries in the slot: the old one for a household that moved away.
    return [(books.slot_card_no(s), s.position, s.book_no, s.slot_no) for s in books.slots_of(village)]


def test_slots_follow_group_and_door_order_and_never_move(app, people, units):
    app.config["BOOK_SIZE"] = 3
    a = units["A"]
    h12 = add(people, units["A2"], 1, "12号")   # card 0001, group 2
    h3 = add(people, units["A2"], 2, "3号")     # card 0002, group 2: door 3 before door 12
    h7 = add(people, units["A1"], 3, "7号")     # card 0003, group 1 first
    h1 = add(people, units["A1"], 4, "1号")     # card 0004
    assert books.assign_slots(people.clerk, a) == 4
    db.session.commit()
    first = slots(a)
    assert [c for c, *_ in first] == [h1.card_no, h7.card_no, h3.card_no, h12.card_no]
    assert [(p, b, s) for _, p, b, s in first] == [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 1)]

    # Later households take the next free slots at the end, whatever their address;
    # a changed book size does not move the slots already given.
    app.config["BOOK_SIZE"] = 100
    late = add(people, units["A1"], 5, "0号")
    assert books.assign_slots(people.clerk, a) == 1
    assert books.assign_slots(people.clerk, a) == 0
    db.session.commit()
    assert slots(a) == first + [(late.card_no, 5, 1, 5)]
    assert count(AuditEntry, AuditEntry.action == "book.slots") == 2


def test_clerk_prints_a_book_and_downloads_it(app, people, units):
    a = units["A"]
    for seq in range(1, 4):
        add(people, units["A1"], seq, surname=["王", "李", "赵"][seq - 1])
    c = people.clerk_client
    page = text(c.get(f"/print/villages/{a.id}"))
    assert "3" in page and 'data-testid="unslotted"' in page

    resp = c.post_form(f"/print/villages/{a.id}/jobs", {"kind": "village", "page_size": "A4"})
    assert resp.status_code == 302
    job = db.session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert job.state == "done" and job.done_steps == job.total_steps == 1
    page = text(c.get(resp.headers["Location"]))
    assert "多福巷社区-第1册.pdf" in page

    pdf = c.get(f"/print/jobs/{job.id}/files/0")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages = pdf_pages(pdf.data)
    for h in db.session.scalars(select(Household)):
        # The front (the member table) on a right-hand page, the back right behind it.
        (front,) = [i for i, p in enumerate(pages) if f"户卡编号 {h.card_no}" in p and "公民身份号码" in p]
        assert h.head_name in pages[front] and front % 2 == 0
        assert f"户卡编号 {h.card_no}" in pages[front + 1] and "公民身份号码" not in pages[front + 1]
    assert count(AuditEntry, AuditEntry.action == "print.download") == 1
    assert count(AuditEntry, AuditEntry.action == "print.request") >= 1
    # The book is now printed: nothing changed since.
    db.session.expire_all()
    (summary,) = books.books_of(a)
    assert (summary.households, summary.changed, summary.never_printed) == (3, 0, 0)
    assert summary.last_printed_at is not None


def test_reprint_changed_cards_and_one_card(app, people, units):
    a = units["A"]
    hs = [add(people, units["A1"], seq) for seq in range(1, 4)]
    c = people.clerk_client
    c.post_form(f"/print/villages/{a.id}/jobs", {"kind": "village"})
    # One household is corrected, one is added: the book has two cards to (re)print.
    current = db.session.get(Household, hs[1].id)
    data = dict(current.current_version.data)
    data["household"] = {**data["household"], "phone": "13800138000"}
    reg.save_household(people.collector, hs[1].id, data=data, base_number=current.current_number, today=TODAY)
    db.session.commit()
    added = add(people, units["A2"], 9)
    before = slots(a)
    assert (books.books_of(a)[0].changed, books.unslotted_count(a)) == (1, 1)
    assert 'value="changed"' in text(c.get(f"/print/villages/{a.id}"))

    resp = c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"})
    assert resp.status_code == 302
    job = db.session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert job.kind == "changed" and job.state == "done"
    pages = pdf_pages(c.get(f"/print/jobs/{job.id}/files/0").data)
    assert len(pages) == 4, "two cards, front and back each"
    joined = "\n".join(pages)
    assert hs[1].card_no in joined and added.card_no in joined
    assert hs[0].card_no not in joined and hs[2].card_no not in joined
    assert slots(a)[:3] == before[:3], "reprints do not move slots"
    db.session.expire_all()
    assert books.books_of(a)[0].changed == 0

    # Nothing changed any more: a reprint of changed cards is refused with a message, no job.
    jobs = count(PrintJob)
    resp = c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"})
    assert resp.status_code == 302 and count(PrintJob) == jobs
    assert "flash-error" in text(c.get(resp.headers["Location"]))

    # One card, marked with its book and slot.
    resp = c.post_form(f"/print/villages/{a.id}/jobs", {"kind": "card", "card_no": hs[2].card_no})
    job = db.session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert job.kind == "card" and job.state == "done"
    pages = pdf_pages(c.get(f"/print/jobs/{job.id}/files/0").data)
    assert len(pages) == 2 and hs[2].card_no in pages[0]
    slot = db.session.scalar(select(BookSlot).where(BookSlot.household_id == hs[2].id))
    assert re.search(rf"第\s*{slot.book_no}\s*册", pages[0]) and re.search(rf"第\s*{slot.slot_no}\s*号", pages[0])


def test_bad_requests_change_nothing(app, people, units):
    a = units["A"]
    add(people, units["A1"], 1)
    c = people.clerk_client
    before = (count(PrintJob), count(BookSlot), count(AuditEntry))
    for form in ({"kind": "card", "card_no": "9999"}, {"kind": "card", "card_no": "abc"},
                 {"kind": "village", "page_size": "Letter"}):
        resp = c.post_form(f"/print/villages/{a.id}/jobs", form)
        assert resp.status_code == 302, form
        page = text(c.get(resp.headers["Location"]))
        assert 'flash-error' in page, form
    resp = c.post_form(f"/print/villages/{a.id}/jobs?book_no=7", {"kind": "book"})
    assert 'flash-error' in text(c.get(resp.headers["Location"]))
    assert (count(PrintJob), count(BookSlot), count(AuditEntry)) == before


def test_only_clerks_in_scope_print(app, people, units, make_user, new_client):
    add(people, units["A1"], 1)
    outsider = make_user("clerk", units["T2"], username="clerk_t2")
    oc = new_client()
    oc.login(outsider.username)
    assert oc.get(f"/print/villages/{units['A'].id}").status_code == 404
    assert "多福巷社区" not in text(oc.get("/print/"))
    cc = new_client()
    cc.login("collector_a")
    assert cc.get(f"/print/villages/{units['A'].id}").status_code == 403
    resp = cc.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    assert resp.status_code == 403 and count(PrintJob) == 0
    # A job of village A is not visible to the other township's clerk.
    people.clerk_client.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    job = db.session.scalars(select(PrintJob)).one()
    assert oc.get(f"/print/jobs/{job.id}").status_code == 404
    assert oc.get(f"/print/jobs/{job.id}/files/0").status_code == 404


def test_a_failed_render_is_recorded_and_the_job_is_not_lost(app, people, units, monkeypatch):
    import printing

    def broken(*args, **kwargs):
        raise printing.PrintingError("printer on fire")

    add(people, units["A1"], 1)
    monkeypatch.setattr(printing, "render_book", broken)
    resp = people.clerk_client.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    assert resp.status_code == 302
    job = db.session.scalars(select(PrintJob)).one()
    assert job.state == "failed" and "printer on fire" in job.error
    assert "printer on fire" in text(people.clerk_client.get(resp.headers["Location"]))
    assert count(AuditEntry, AuditEntry.action == "print.failed") == 1
    # The slots were placed at the request and stay; nothing was marked printed.
    assert all(s.printed_state is None for s in books.slots_of(units["A"]))


def test_command_line_prints_a_book_and_a_village(app, people, units, tmp_path):
    app.config["BOOK_SIZE"] = 2
    for seq in range(1, 4):
        add(people, units["A1"], seq)
    out = tmp_path / "village"
    result = app.test_cli_runner().invoke(args=["print", "village", "--village", units["A"].code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["多福巷社区-第1册.pdf", "多福巷社区-第2册.pdf"]
    assert sum(len(pdf_pages((out / f).read_bytes())) for f in files) > 6
    book = tmp_path / "book2.pdf"
    result = app.test_cli_runner().invoke(args=["print", "book", "--village", units["A"].code, "--book", "2",
                                                "-o", str(book)])
    assert result.exit_code == 0, result.output
    assert any("0003" in p for p in pdf_pages(book.read_bytes()))
    result = app.test_cli_runner().invoke(args=["print", "book", "--village", units["A"].code, "--book", "5",
                                                "-o", str(book)])
    assert result.exit_code == 1 and "5" in result.output


def decode_qr_codes(pdf: bytes, folder) -> list[str]:
    """Rasterise every page (poppler's pdftoppm) and read its QR codes with zxing-cpp."""
    import subprocess

    import zxingcpp
    from PIL import Image

    source = folder / "book.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(source), str(folder / "page")], check=True)
    found = []
    for png in sorted(folder.glob("page-*.png")):
        found += [r.text for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode]
    return found


def test_printed_qr_codes_open_their_household_only_in_scope(app, people, units, make_user, new_client, tmp_path):
    hs = [add(people, units["A1"], seq, surname=s) for seq, s in ((1, "欧阳"), (2, "刘"))]
    c = people.clerk_client
    resp = c.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    job = db.session.scalars(select(PrintJob)).one()
    urls = decode_qr_codes(c.get(f"/print/jobs/{job.id}/files/0").data, tmp_path)
    assert len(urls) == 2 and all(u.startswith(app.config["BASE_URL"] + "/c/") for u in urls)

    insider = new_client()
    insider.login("collector_a")
    outsider = new_client()
    outsider.login(make_user("collector", units["C"], username="collector_c").username)
    for url, h in zip(urls, hs):  # cards in slot order: door 1, then door 2
        path = url.removeprefix(app.config["BASE_URL"])
        assert f"{units['A'].code}-{h.card_no}." in path
        resp = insider.get(path)
        assert resp.status_code == 302 and str(h.id) in resp.headers["Location"]
        resp = outsider.get(path)
        page = text(resp)
        assert resp.status_code == 200 and h.card_no in page and units["A"].name in page
        assert h.head_name not in page
        # One character changed anywhere after the prefix: not a valid card.
        for i in range(len("/c/"), len(path)):
            forged = path[:i] + ("1" if path[i] != "1" else "2") + path[i + 1:]
            assert insider.get(forged).status_code == 404, forged


def test_print_files_are_deleted_after_the_keeping_time(app, people, units):
    import datetime as dt

    from app.domain import print_jobs
    from app.models import utcnow

    add(people, units["A1"], 1)
    c = people.clerk_client
    resp = c.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    job = db.session.scalars(select(PrintJob)).one()
    path = print_jobs.file_path(job, 0)
    assert path.is_file()
    assert print_jobs.delete_old_files(keep_days=7) == 0  # too young
    job.finished_at = utcnow() - dt.timedelta(days=8)
    db.session.commit()
    assert print_jobs.delete_old_files(keep_days=7) == 1
    db.session.commit()
    assert not path.exists()
    assert c.get(f"/print/jobs/{job.id}/files/0").status_code == 404
    assert 'data-testid="files-deleted"' in text(c.get(resp.headers["Location"]))
    assert count(AuditEntry, AuditEntry.action == "print.files_deleted") == 1


# ------------------------------------------------------------------ households that move to another village

MOVED_ON = dt.date(2026, 5, 1)


def transfer(units, make_user, household_id, to: str, on: dt.date) -> Household:
    """Move a household to village `to` through the events domain: asked by a collector of its
    present village, accepted by the receiving village's leader."""
    from app.domain import events

    here = db.session.get(Household, household_id).village
    asker = make_user("collector", here)
    leader = make_user("village_leader", units[to])
    moved = events.request_transfer(asker, household_id, to_unit_id=units[to].id, occurred_on=on, today=TODAY)
    events.decide_transfer(leader, moved.id, accept=True, today=TODAY)
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Household, household_id)


def last_job_pages(c) -> tuple[PrintJob, bytes]:
    job = db.session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert job.state == "done", job.error
    return job, c.get(f"/print/jobs/{job.id}/files/0").data


def summary(village) -> books.BookSummary:
    db.session.expire_all()
    (only,) = books.books_of(village)
    return only


def translated(app, text: str, **values) -> str:
    from flask_babel import force_locale
    from flask_babel import gettext as _

    with app.test_request_context(), force_locale("zh_CN"):
        return _(text, **values)


def translated_n(app, singular: str, plural: str, num: int) -> str:
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("zh_CN"):
        return ngettext(singular, plural, num)


@pytest.fixture
def moving(app, people, units, make_user):
    """Village A printed with households 0001-0003 (door order), village B printed with four;
    then A's 0002 moves to B on MOVED_ON and gets B's card 0005."""
    hs = [add(people, units["A1"], seq) for seq in range(1, 4)]
    maker_b = make_user("collector", units["B"], username="collector_b")
    for seq in range(4, 8):
        reg.new_household(maker_b, unit_id=units["B"].id, data=family("钱", seq=seq), today=TODAY)
    db.session.commit()
    for village in (units["A"], units["B"]):
        people.clerk_client.post_form(f"/print/villages/{village.id}/jobs", {"kind": "village"})
    assert (summary(units["A"]).changed, summary(units["B"]).changed, hs[1].card_no) == (0, 0, "0002")
    moved = transfer(units, make_user, hs[1].id, "B", MOVED_ON)
    assert (moved.village_id, moved.card_no) == (units["B"].id, "0005")
    return SimpleNamespace(hs=hs, moved=moved, head=hs[1].head_name)


def test_a_moved_household_gets_a_slot_in_its_new_village_and_keeps_the_old_one(app, people, units, moving):
    a, b = units["A"], units["B"]
    c = people.clerk_client
    before = slots(a)
    # The old village's book keeps the slot, with the old card number; it changed since printed.
    old = summary(a)
    assert (old.households, old.first_card_no, old.last_card_no) == (3, "0001", "0003")
    assert (old.moved_out, old.changed, old.never_printed) == (1, 1, 0)
    assert books.unslotted_count(a) == 0 and books.unslotted_count(b) == 1
    page = text(c.get(f"/print/villages/{a.id}"))
    assert 'data-testid="moved-out-0002"' in page and moving.head in page
    assert translated(app, "Moved out → %(village)s %(card)s", village=b.name, card="0005") in page
    assert "2026-05-01" in page
    # The list of villages counts households where they are now, and the moved-out page as changed.
    index = text(c.get("/print/"))
    a_row = index[index.index(a.name):index.index(b.name)]
    assert translated_n(app, "%(num)d household", "%(num)d households", 2) in a_row
    assert translated_n(app, "%(num)d card changed since printed", "%(num)d cards changed since printed", 1) in a_row

    # Printing the new village gives the household a slot there, at the end like any newcomer
    # (its door, 2号, would come first in print order).
    resp = c.post_form(f"/print/villages/{b.id}/jobs", {"kind": "village"})
    assert resp.status_code == 302
    _job, pdf = last_job_pages(c)
    assert count(BookSlot, BookSlot.household_id == moving.moved.id) == 2
    assert slots(a) == before
    assert slots(b)[-1] == ("0005", 5, 1, 5)
    (front,) = [p for p in pdf_pages(pdf) if "户卡编号 0005" in p and "公民身份号码" in p]
    assert "银闸社区" in front and "已迁出" not in front and moving.head in front
    assert (summary(b).changed, summary(b).moved_out) == (0, 0)


def test_the_old_book_prints_the_household_as_it_was_there_marked_moved_out(app, people, units, moving, tmp_path):
    from app.domain.cards import card_url

    a = units["A"]
    c = people.clerk_client
    old_url = card_url(app.config["BASE_URL"], app.config["CARD_KEYS"], a.code, "0002")
    note = "于2026年5月1日迁至银闸社区，新卡号0005"

    # Changed cards of the old book: just the moved-out page, then nothing changed any more.
    assert c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"}).status_code == 302
    _job, pdf = last_job_pages(c)
    pages = pdf_pages(pdf)
    assert len(pages) == 2
    front = re.sub(r"\s+", "", pages[0])
    assert "已迁出/transferredout" in front and note in front
    assert "户卡编号0002" in front and "多福巷社区" in front and "银闸社区" in front
    assert moving.head.replace(" ", "") in front and "0005" in front
    assert "户卡编号 0002" in pages[1] and "多福巷社区" in pages[1]
    (tmp_path / "changed").mkdir()
    assert decode_qr_codes(pdf, tmp_path / "changed") == [old_url]
    assert (summary(a).changed, summary(a).never_printed, summary(a).moved_out) == (0, 0, 1)
    resp = c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"})
    assert "flash-error" in text(c.get(resp.headers["Location"]))

    # The whole book: the catalogue keeps the slot and says where the household went.
    c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "book"})
    _job, pdf = last_job_pages(c)
    pages = pdf_pages(pdf)
    catalogue = next(p for p in pages if "目" in p and "录" in p)
    assert re.search(r"^2 0002 4 7$", catalogue, re.M)  # slot, card no, members, page
    assert "已迁出 → 银闸社区 0005" in catalogue and catalogue.count("已迁出") == 1
    fronts = [re.sub(r"\s+", "", p) for p in pages if "公民身份号码" in p]
    assert len(fronts) == 3 and [note in f for f in fronts] == [False, True, False]
    (tmp_path / "book").mkdir()
    assert sorted(decode_qr_codes(pdf, tmp_path / "book")) == sorted(
        card_url(app.config["BASE_URL"], app.config["CARD_KEYS"], a.code, n) for n in ("0001", "0002", "0003"))

    # One card, by the number the old book carries for it.
    resp = c.post_form(f"/print/villages/{a.id}/jobs", {"kind": "card", "card_no": "2"})
    job, pdf = last_job_pages(c)
    assert job.files[0]["name"] == "多福巷社区-户卡0002.pdf"
    front = re.sub(r"\s+", "", pdf_pages(pdf)[0])
    assert note in front and "补印件第1册第2号" in front
    page = text(c.get(f"/print/villages/{a.id}"))
    assert translated(app, "Card %(card_no)s", card_no="0002") in page
    # Village B's own number 0005 is not a card of village A.
    resp = c.post_form(f"/print/villages/{a.id}/jobs", {"kind": "card", "card_no": "0005"})
    assert "flash-error" in text(c.get(resp.headers["Location"]))


def test_a_household_moved_back_returns_to_its_old_slot(app, people, units, make_user, moving):
    a, b = units["A"], units["B"]
    c = people.clerk_client
    c.post_form(f"/print/villages/{b.id}/jobs", {"kind": "village"})
    c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"})
    before_a, before_b = slots(a), slots(b)
    assert (summary(a).changed, summary(b).changed) == (0, 0)

    back = transfer(units, make_user, moving.moved.id, "A", dt.date(2026, 9, 1))
    assert (back.village_id, back.card_no) == (a.id, "0004")
    # No new slot: the household is in its old place again, which shows its new card number;
    # its slot in B's book is now the moved-out one.
    assert books.assign_slots(people.clerk, a) == 0
    db.session.commit()
    assert count(BookSlot, BookSlot.household_id == back.id) == 2
    assert slots(a) == [before_a[0], ("0004", *before_a[1][1:]), before_a[2]]
    assert slots(b) == before_b
    assert (summary(a).changed, summary(a).moved_out, summary(a).last_card_no) == (1, 0, "0004")
    assert (summary(b).changed, summary(b).moved_out) == (1, 1)
    page = text(c.get(f"/print/villages/{b.id}"))
    assert 'data-testid="moved-out-0005"' in page
    assert translated(app, "Moved out → %(village)s %(card)s", village=a.name, card="0004") in page
    assert 'data-testid="moved-out"' not in text(c.get(f"/print/villages/{a.id}"))

    c.post_form(f"/print/villages/{a.id}/jobs?book_no=1", {"kind": "changed"})
    _job, pdf = last_job_pages(c)
    (front, _back) = pdf_pages(pdf)
    assert "户卡编号 0004" in front and "已迁出" not in front and re.search(r"第\s*2\s*号", front)
    c.post_form(f"/print/villages/{b.id}/jobs?book_no=1", {"kind": "changed"})
    _job, pdf = last_job_pages(c)
    front = re.sub(r"\s+", "", pdf_pages(pdf)[0])
    assert "户卡编号0005" in front and "于2026年9月1日迁至多福巷社区，新卡号0004" in front
    assert (summary(a).changed, summary(b).changed) == (0, 0)


def test_the_books_table_lists_the_runs_of_card_numbers(app, people, units):
    # Issue 14: a book holds households in print order (door order here), not a range of card
    # numbers; the table said "first–last", naming cards of the other book.
    app.config["BOOK_SIZE"] = 5
    a = units["A"]
    for seq, door in enumerate([1, 2, 3, 7, 8, 4, 5, 6], start=1):  # cards 0001..0008 at these doors
        add(people, units["A1"], seq, f"{door}号")
    assert books.assign_slots(people.clerk, a) == 8
    db.session.commit()
    assert [b.card_runs for b in books.books_of(a)] == [("0001–0003", "0006–0007"), ("0004–0005", "0008")]
    page = text(people.clerk_client.get(f"/print/villages/{a.id}"))
    assert re.search(r'data-testid="runs-1">\s*<span class="run">0001–0003</span>, '
                     r'<span class="run">0006–0007</span>\s*</span>', page)
    assert '<span class="run">0004–0005</span>, <span class="run">0008</span>' in page
    assert "0004–0008" not in page and "0001–0007" not in page


def test_the_card_prints_status_and_hukou_type_of_ordinary_residents(app, people, units, tmp_path):
    # Issue 14: 人员状态 '正常' was printed as an empty cell, and so was 户口性质 for members
    # without a hukou type of their own; on paper an empty cell reads as "not filled in".
    import subprocess

    data = family(surname="欧阳", seq=7)
    data["household"]["hukou_type"] = "2"  # 农业家庭户口, the household's
    data["members"][0]["hukou_type"] = "1"  # the head's own: 非农业家庭户口
    h = reg.new_household(people.collector, unit_id=units["A1"].id, data=data, today=TODAY).household
    db.session.commit()
    c = people.clerk_client
    c.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    job = db.session.scalars(select(PrintJob)).one()
    path = tmp_path / "book.pdf"
    path.write_bytes(c.get(f"/print/jobs/{job.id}/files/0").data)
    pages = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    (front,) = [p for p in pages if re.search(rf"户卡编号\s+{h.card_no}\b", p) and "公民身份号码" in p]
    # Each member's line of the table, as laid out on paper: the label whole, the status printed.
    for m, hukou in zip(data["members"], ["非农业家庭户口", "农业家庭户口", "农业家庭户口", "农业家庭户口"]):
        line = rf"{m['name']}\s.*{m['id_number']}\s+{hukou}\s+正常\s*$"
        assert re.search(line, front, re.M), (m["name"], front)
