"""Books of household cards (both databases): slots fixed at first printing, print jobs run by
the task queue (immediately, in tests), the clerk's screens, reprints of changed cards and of
one card, the command line. The PDFs are real WeasyPrint output, read back with pypdf."""
from __future__ import annotations

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
    return [(s.household.card_no, s.position, s.book_no, s.slot_no) for s in books.slots_of(village)]


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
