"""Printed PDFs of personal data name who printed them and when, on every page (both
databases): a job of clerk A carries A's name whoever downloads it; `flask print` names the
command line and the OS account. Read back with pdftotext; the page count stays that of the
same book without the line (it is in the margin)."""
from __future__ import annotations

import datetime as dt
import getpass
import io
import re
import subprocess
from zoneinfo import ZoneInfo

import pypdf
from sqlalchemy import select

import printing
from app.domain import registration as reg
from app.extensions import db
from app.models import PrintJob
from printing.samples import sample_book
from tests.support.households import TODAY, family


def pages_text(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.split("\f")[:-1]


def stamps(pages: list[str], name: str) -> list[str | None]:
    """The imprint's time on each page, or None where the page lacks the line."""
    line = re.compile(rf"打印：{re.escape(name)} (\d{{4}}-\d\d-\d\d \d\d:\d\d)")
    return [(m.group(1) if (m := line.search(p)) else None) for p in pages]


def now_local() -> dt.datetime:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)


def test_a_job_of_clerk_a_carries_as_name_and_the_time_on_every_page(app, units, make_user, new_client, tmp_path):
    app.config["BOOK_SIZE"] = 2
    collector = make_user("collector", units["A"], username="collector_a")
    make_user("clerk", units["T1"], username="clerk_a", name="打印员甲")
    make_user("clerk", units["T1"], username="clerk_b", name="打印员乙")
    for seq in (1, 2, 3):
        reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    a = new_client()
    a.login("clerk_a")
    before = now_local().replace(second=0, microsecond=0)
    assert a.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"}).status_code == 302
    after = now_local()
    job = db.session.scalars(select(PrintJob)).one()
    assert job.state == "done" and len(job.files) == 2
    b = new_client()
    b.login("clerk_b")  # another clerk downloads it: the paper still names the one who printed it
    for index in range(2):
        pdf = b.get(f"/print/jobs/{job.id}/files/{index}").data
        pages = pages_text(pdf, tmp_path)
        assert len(pages) == len(pypdf.PdfReader(io.BytesIO(pdf)).pages) > 2
        times = stamps(pages, "打印员甲")
        assert None not in times, [p[-300:] for p, t in zip(pages, times) if t is None][:1]
        for t in times:
            assert before <= dt.datetime.strptime(t, "%Y-%m-%d %H:%M") <= after
        assert all("打印员乙" not in p for p in pages)


def test_the_command_line_names_itself_and_the_os_account(app, units, make_user, tmp_path):
    collector = make_user("collector", units["A"], username="collector_a")
    reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=1), today=TODAY)
    db.session.commit()
    out = tmp_path / "book.pdf"
    result = app.test_cli_runner().invoke(args=["print", "book", "--village", units["A"].code, "--book", "1",
                                                "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages = pages_text(out.read_bytes(), tmp_path)
    assert None not in stamps(pages, f"命令行（{getpass.getuser()}）")


def test_the_imprint_moves_nothing_on_the_page(tmp_path):
    """A5 is the tightest: the same book has the same pages with and without the line."""
    book = sample_book(3)
    stamp = printing.Imprint("打印员甲", dt.datetime(2026, 12, 7, 20, 15))
    with_line = printing.render_book(book, page_size="A5", processes=1, imprint=stamp)
    without = printing.render_book(book, page_size="A5", processes=1)
    pages = pages_text(with_line, tmp_path)
    assert len(pages) == len(pypdf.PdfReader(io.BytesIO(without)).pages) == 2 + 2 + 2 * 3
    assert stamps(pages, "打印员甲") == ["2026-12-07 20:15"] * len(pages)
    # The card front's version and date stay on one line beside it.
    assert all("打印日期 2024年5月20日" in p for p in pages[4::2])
