"""Books and reprints rendered for real and read back: text (pdftotext), fonts (pdffonts),
QR codes (pdftoppm + zxing-cpp), page order and numbers."""
from __future__ import annotations

import io
import logging
import multiprocessing
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import qrcode
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from qrcode.constants import ERROR_CORRECT_M
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

import printing.render
from printing import (Book, CardDoesNotFit, MemberRow, MissingGlyphs, SignatureBox, TransferredOut,
                      check_environment, render_book, render_cards)
from printing.environment import _fontconfig_has
from printing.fetcher import BASE_URL, LocalFetcher, RefusedURL
from printing.samples import sample_book, sample_card

HOUSEHOLDS = 12
LEAD = 4  # cover, its blank reverse, one catalogue page, a blank page: fronts start on page 5
RARE = {3: "刘䶮", 5: "𠮷明", 6: "王𬌗"}  # slot: a member's name with characters outside the common set
UNVERIFIED_SLOTS = {2, 7}


# ------------------------------------------------------------------ sample data and readers

def make_book() -> Book:
    """12 households; some members with rare names, two cards not verified."""
    book = sample_book(HOUSEHOLDS, seed=7)
    cards = []
    for card in book.cards:
        members = card.members
        if card.slot in RARE:
            members = (*members[:-1], replace(members[-1], name=RARE[card.slot]))
        cards.append(replace(card, members=members, verified=card.slot not in UNVERIFIED_SLOTS))
    return replace(book, cards=tuple(cards))


def pages_text(pdf: bytes, tmp_path: Path) -> list[str]:
    """pdftotext -layout, one string a page (the text as laid out on paper)."""
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.split("\f")[:-1]


def squash(text: str) -> str:
    """Without whitespace: pdftotext's spacing between words follows their distance on paper."""
    return re.sub(r"\s+", "", text)


def page_count(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    return len(PdfReader(path).pages)


@pytest.fixture(scope="module")
def book() -> Book:
    return make_book()


def warnings_while(render) -> tuple[bytes, list[str]]:
    """render() and every warning WeasyPrint logs meanwhile (a '.notdef glyph' among them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        return render(), [r.getMessage() for r in records]
    finally:
        logger.removeHandler(handler)

@pytest.fixture(scope="module")
def rendered(book):
    """The book in one process, with every warning WeasyPrint logs while doing it."""
    return warnings_while(lambda: render_book(book, processes=1))


@pytest.fixture(scope="module")
def book_pdf(rendered) -> bytes:
    return rendered[0]


@pytest.fixture(scope="module")
def book_pages(book_pdf, tmp_path_factory) -> list[str]:
    return pages_text(book_pdf, tmp_path_factory.mktemp("book"))


# ------------------------------------------------------------------ the book

def test_book_has_cover_catalogue_and_two_pages_per_card(book, book_pdf, book_pages, tmp_path):
    assert page_count(book_pdf, tmp_path) == LEAD + 2 * HOUSEHOLDS == len(book_pages)
    cover = squash(book_pages[0])
    for text in ("全员人口信息户卡册", "宏村镇", "塔川村", "341023101204", "第1册", "户卡编号0001–0012",
                 f"{HOUSEHOLDS}户", "2024年5月20日"):
        assert text in cover
    assert "本页空白" in book_pages[1] and "本页空白" in book_pages[3]


def test_catalogue_lists_the_slots_in_order_with_the_page_of_each_front(book, book_pages):
    rows = re.findall(r"^\s*(\d+)\s+(\d{4})\s+(\S+)\s+(.+?)\s+(\d+)\s+(\d+)\s*$", book_pages[2], re.M)
    assert [int(r[0]) for r in rows] == [c.slot for c in book.cards]
    for (slot, card_no, head, address, members, page), card in zip(rows, book.cards):
        assert (card_no, head, address) == (card.card_no, card.head_name, f"{card.location} {card.door}")
        assert int(members) == sum(not m.cancelled for m in card.members)
        front = book_pages[int(page) - 1]  # the page the catalogue names is the card's front
        assert "全员人口信息户卡" in front and re.search(rf"户卡编号\s+{card.card_no}\b", front)
        assert card.head_name in front and card.address in front


def test_fronts_on_odd_pages_backs_behind_them(book, book_pages):
    for k, card in enumerate(book.cards):
        front, back = LEAD + 2 * k + 1, LEAD + 2 * k + 2
        assert front % 2 == 1
        text = book_pages[front - 1]
        assert re.search(rf"户卡编号\s+{card.card_no}\b", text)
        for member in card.members:
            assert member.name in text and member.id_number in text
        assert f"版本{card.version_number}" in squash(text) and f"第{book.book_no}册第{card.slot}号" in squash(text)
        assert re.search(rf"户卡编号\s+{card.card_no}\s+塔川村\s+{card.location}\s+{card.door}",
                         book_pages[back - 1])


def test_pages_are_numbered_continuously(book_pages):
    for number, text in enumerate(book_pages, start=1):
        shown = re.findall(r"第\s*(\d+)\s*页", text)
        if number in (1, 2, 4):  # the cover and the blank pages carry no number
            assert shown == []
        else:
            assert shown == [str(number)]


def test_unverified_mark_only_on_unverified_cards(book, book_pages):
    for k, card in enumerate(book.cards):
        marked = "未审核/notverified" in squash(book_pages[LEAD + 2 * k])
        assert marked == (card.slot in UNVERIFIED_SLOTS)


def test_fonts_are_embedded_noto_cjk_and_rare_characters_render(rendered, book_pages, tmp_path):
    pdf, warnings = rendered
    path = tmp_path / "book.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    fonts = out.splitlines()[2:]
    assert fonts and all("Noto-Sans-CJK-SC" in line for line in fonts), out
    assert all(line.split()[-5] == "yes" for line in fonts), out  # the "emb" column
    assert "Type 3" not in out
    assert warnings == []  # no ".notdef glyph rendered", nor anything else
    text = "".join(book_pages)
    for name in RARE.values():
        assert name in text


def test_each_front_carries_a_qr_code_of_its_url(book, book_pdf, tmp_path):
    path = tmp_path / "book.pdf"
    path.write_bytes(book_pdf)
    # Odd pages from the first front, the top 118 mm of each (where the code is), at 150 dpi.
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-o", "-f", str(LEAD + 1), "-H", "700", str(path),
                    str(tmp_path / "front")], check=True)
    images = sorted(tmp_path.glob("front-*.png"))
    assert len(images) == HOUSEHOLDS
    for image, card in zip(images, book.cards):
        found = zxingcpp.read_barcodes(Image.open(image))
        assert [r.text for r in found] == [card.qr_url]
        assert found[0].ec_level == "M"
        assert module_mm(found[0], card.qr_url) >= 0.5


def module_mm(result, url: str) -> float:
    """A module's printed size at 150 dpi, from the symbol's width and its module count."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    width_px = result.position.top_right.x - result.position.top_left.x + 1
    return width_px / code.modules_count * 25.4 / 150


def test_two_processes_give_the_same_pages(book, book_pages, tmp_path):
    pdf = render_book(book, processes=2)
    assert pages_text(pdf, tmp_path) == book_pages
    # The second chunk starts with card 6 on page 15: still a recto, bound on its left edge,
    # and its back mirrored, so that the back lies right behind the front.
    assert printing.render._chunk_sizes(HOUSEHOLDS, LEAD, 2) == [5, 7]
    front, back = ink_span_mm(pdf, 15, tmp_path), ink_span_mm(pdf, 16, tmp_path)
    assert front == pytest.approx((22, 198), abs=0.6)  # A4 margins: 22 mm bound edge, 12 mm outer
    assert back == pytest.approx((12, 188), abs=0.6)


def ink_span_mm(pdf: bytes, page: int, tmp_path: Path) -> tuple[float, float]:
    """From the leftmost to the rightmost printed column of a page (above the footer), in mm."""
    path = tmp_path / "span.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-gray", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                    "-H", "1000", str(path), str(tmp_path / "span")], check=True)
    image = Image.open(tmp_path / "span.png").convert("L")
    columns = [x for x in range(image.width) if image.crop((x, 0, x + 1, image.height)).getextrema()[0] < 128]
    return columns[0] * 25.4 / 100, (columns[-1] + 1) * 25.4 / 100


def test_a_catalogue_of_two_pages_needs_no_blank_page(monkeypatch, tmp_path):
    monkeypatch.setitem(printing.render.CATALOGUE_ROWS, "A5", 4)
    book = sample_book(7, seed=3)
    pages = pages_text(render_book(book, page_size="A5", processes=1), tmp_path)
    assert len(pages) == 2 + 2 + 2 * 7
    assert "目" in pages[2] and "目" in pages[3]
    assert re.search(r"^\s*5\s+0005\s.*\s\d+\s+13\s*$", pages[3], re.M)  # slot 5: front on page 13
    assert re.search(r"户卡编号\s+0005\b", pages[12])


def with_card_numbers(book: Book, numbers: list[int]) -> Book:
    return replace(book, cards=tuple(replace(c, card_no=f"{n:04d}") for c, n in zip(book.cards, numbers)))


def test_the_cover_lists_the_runs_of_card_numbers_of_the_book(tmp_path):
    # Issue 14: a book of households in print order is not a range of card numbers; the cover
    # said '0001 至 0244' for a book without 0097-0196.
    numbers = [*range(1, 5), 120, *range(133, 137), 244, 2]  # unsorted, as slots are
    book = with_card_numbers(sample_book(len(numbers), seed=4, members=(1, 2)), numbers)
    pages = pages_text(render_book(book, processes=1), tmp_path)
    assert "户卡编号0001–0004,0120,0133–0136,0244" in squash(pages[0])
    assert "至" not in pages[0]


@pytest.mark.parametrize("page_size", ["A4", "A5"])
def test_a_hundred_scattered_card_numbers_fit_the_cover(page_size, tmp_path):
    # No two numbers consecutive: 100 runs, about 600 characters, each run whole on one line.
    numbers = [3 * k + 1 for k in range(100)]
    book = with_card_numbers(sample_book(100, seed=5, members=(1, 1)), numbers)
    pdf = render_book(book, page_size=page_size)
    pages = pages_text(pdf, tmp_path)
    catalogue = -(-100 // printing.render.CATALOGUE_ROWS[page_size])
    assert len(pages) == page_count(pdf, tmp_path) == 2 + catalogue + catalogue % 2 + 200
    listed = ",".join(f"{n:04d}" for n in numbers)
    assert "户卡编号" + listed + "户数100户" in squash(pages[0])
    # Read as laid out, line by line: no number split over two lines.
    runs = pages[0].split("户卡编号")[1].split("户")[0]
    assert len(runs.strip().splitlines()) > 3
    assert re.findall(r"\d+", runs) == [f"{n:04d}" for n in numbers]
    assert re.search(r"户卡编号\s+0004\b", pages[2 + catalogue + catalogue % 2 + 2])  # the second card's front


# ------------------------------------------------------------------ cards

@pytest.mark.parametrize("page_size", ["A4", "A5"])
def test_twelve_members_fit_on_one_page(page_size, tmp_path):
    card = sample_card(members=12)
    pdf = render_cards([card], page_size=page_size)
    pages = pages_text(pdf, tmp_path)
    assert len(pages) == 2
    for member in card.members:
        assert member.name in pages[0] and member.id_number in pages[0]
    size = PdfReader(tmp_path / "out.pdf").pages[0].mediabox
    assert (round(float(size.width) / 72 * 25.4), round(float(size.height) / 72 * 25.4)) == \
        {"A4": (210, 297), "A5": (148, 210)}[page_size]


@pytest.mark.parametrize("page_size", ["A4", "A5"])
@pytest.mark.parametrize("members", [4, 12])
def test_the_longest_hukou_label_and_the_status_print_whole_on_the_members_line(page_size, members, tmp_path):
    card = sample_card(members=members)
    card = replace(card, members=tuple(replace(m, hukou_type="非农业家庭户口", status="正常", cancelled=False)
                                       for m in card.members))
    (front, _back) = pages_text(render_cards([card], page_size=page_size), tmp_path)
    for m in card.members:
        assert re.search(rf"{m.name}\s.*{m.id_number}\s+非农业家庭户口\s+正常\s*$", front, re.M), m.name


def test_a_card_too_long_for_its_page_is_refused():
    with pytest.raises(CardDoesNotFit) as refused:
        render_cards([sample_card(members=40, card_no="0099")], page_size="A5")
    assert refused.value.card_no == "0099"


def test_unsigned_boxes_show_no_name(tmp_path):
    card = sample_card(signed=0)
    signed = SignatureBox("制卡人", "周卫国", date(2024, 4, 15), sample_card().signatures[0].svg)
    card = replace(card, signatures=(signed, *card.signatures[1:]), verified=False)
    front = pages_text(render_cards([card]), tmp_path)[0]
    names = next(line for line in front.splitlines() if line.strip().startswith("签名"))
    dates = next(line for line in front.splitlines() if line.strip().startswith("日期"))
    assert [part.strip() for part in names.split("签名")[1:]] == ["周卫国", "", ""]
    assert [part.strip() for part in dates.split("日期")[1:]] == ["2024年4月15日", "", ""]
    assert "未审核/notverified" in squash(front)


def test_reprints_are_marked_with_book_and_slot(tmp_path):
    cards = [sample_card(seed=1, card_no="0017", slot=17, book_no=3),
             sample_card(seed=2, card_no="0018", slot=18, book_no=3)]
    pages = pages_text(render_cards(cards), tmp_path)
    assert len(pages) == 4
    for k, card in enumerate(cards):
        assert f"补印件第3册第{card.slot}号" in squash(pages[2 * k])
        assert re.search(rf"户卡编号\s+{card.card_no}\b", pages[2 * k + 1])
    assert not any(re.search(r"第\s*\d+\s*页", text) for text in pages)  # the book's numbers stay the book's


MOVED = TransferredOut(on=date(2026, 5, 1), to_village="银闸社区", to_card_no="0042")



def test_a_household_that_moved_away_keeps_its_page_marked_in_the_old_book(tmp_path):
    book = sample_book(3, seed=5)
    moved = replace(book.cards[1], transferred_out=MOVED, verified=False)
    book = replace(book, cards=(book.cards[0], moved, book.cards[2]))
    pdf, warnings = warnings_while(lambda: render_book(book, processes=1))
    assert warnings == []
    pages = pages_text(pdf, tmp_path)
    assert len(pages) == LEAD + 2 * 3
    # The catalogue keeps the slot with the old card number, and says where the household went.
    rows = re.findall(r"^\s*(\d+)\s+(\d{4})\s+(\S+)\s+(.+?)\s+(\d+)\s+(\d+)\s*$", pages[2], re.M)
    assert [(int(r[0]), r[1]) for r in rows] == [(c.slot, c.card_no) for c in book.cards]
    assert squash(rows[1][3]) == "已迁出→银闸社区0042" and rows[1][2] == moved.head_name
    assert squash(rows[0][3]) == squash(f"{book.cards[0].location} {book.cards[0].door}")
    # Its front: the old village and card number, both marks, the date and the new place.
    front = squash(pages[LEAD + 2])
    assert "已迁出/transferredout" in front and "未审核/notverified" in front
    assert "于2026年5月1日迁至银闸社区，新卡号0042" in front
    assert f"户卡编号{moved.card_no}" in front and "塔川村" in front and moved.head_name in front
    others = [squash(pages[LEAD]), squash(pages[LEAD + 4])]
    assert not any("已迁出" in text for text in others)
    assert re.search(rf"户卡编号\s+{moved.card_no}\s+塔川村", pages[LEAD + 3])  # the back as before
    # Its QR code is still the old card's.
    path = tmp_path / "moved.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", str(LEAD + 3), "-l", str(LEAD + 3), "-H", "700",
                    str(path), str(tmp_path / "front")], check=True)
    (image,) = tmp_path.glob("front-*.png")
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(image))] == [moved.qr_url]
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert all("Noto-Sans-CJK-SC" in line for line in out.splitlines()[2:]), out


@pytest.mark.parametrize("page_size", ["A4", "A5"])
def test_a_moved_reprint_of_twelve_members_with_every_mark_fits_on_one_page(page_size, tmp_path):
    card = replace(sample_card(members=12, card_no="0017", slot=17, book_no=3), transferred_out=MOVED,
                   verified=False)
    pdf, warnings = warnings_while(lambda: render_cards([card], page_size=page_size))
    pages = pages_text(pdf, tmp_path)
    assert len(pages) == 2 and warnings == []
    front = squash(pages[0])
    for text in ("已迁出/transferredout", "未审核/notverified", "于2026年5月1日迁至银闸社区，新卡号0042",
                 "补印件第3册第17号"):
        assert text in front
    for member in card.members:
        assert member.name in pages[0]


def test_a_village_name_without_font_in_the_move_note_fails():
    card = replace(sample_card(card_no="0031"), transferred_out=replace(MOVED, to_village="银\ue000社区"))
    with pytest.raises(MissingGlyphs) as missing:
        render_cards([card])
    assert missing.value.chars == "\ue000" and missing.value.card_nos == ("0031",)


def test_data_is_escaped(tmp_path):
    card = sample_card()
    card = replace(card, head_name="<b>王</b>&amp;", members=(
        MemberRow("<i>李</i>", "户主", "男", "", "", "", "正常"),))
    front = squash(pages_text(render_cards([card]), tmp_path)[0])
    assert "<b>王</b>&amp;" in front and "<i>李</i>" in front


def test_a_character_without_font_fails_instead_of_printing_a_box():
    card = sample_card(card_no="0031")
    card = replace(card, members=(replace(card.members[0], name="张\ue000"), *card.members[1:]))
    with pytest.raises(MissingGlyphs) as missing:
        render_cards([card])
    assert missing.value.chars == "\ue000" and missing.value.card_nos == ("0031",)


def test_a_book_needs_its_cards_in_slot_order():
    book = sample_book(3)
    with pytest.raises(ValueError, match="slot order"):
        render_book(replace(book, cards=book.cards[::-1]))
    with pytest.raises(ValueError, match="at most 100"):
        render_book(replace(book, cards=book.cards * 34))


# ------------------------------------------------------------------ environment and fetching

def test_environment_is_complete_here():
    check_environment()


def test_the_font_check_asks_fontconfig_for_the_family_itself():
    assert _fontconfig_has("Noto Sans CJK SC")
    assert not _fontconfig_has("No Such Font Family")  # fontconfig would still offer some font


def test_importing_the_package_does_not_load_weasyprint():
    code = "import sys, printing; printing.Book; assert 'weasyprint' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(printing.__file__).parent.parent)


def test_a_daemonic_process_renders_in_one_process():
    context = multiprocessing.get_context("forkserver")
    pages = context.Queue()
    worker = context.Process(target=render_in_daemon, args=(pages,), daemon=True)
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0 and pages.get(timeout=1) == LEAD + 2 * 3


def render_in_daemon(pages) -> None:
    """In a daemonic process, which may not start the workers that processes=2 asks for."""
    pages.put(len(PdfReader(io.BytesIO(render_book(sample_book(3), processes=2))).pages))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/print.css",
    "https://example.com/logo.png",
    "file:///etc/passwd",
    BASE_URL + "static/../../../../etc/passwd",
    BASE_URL + "render.py",  # in the package, but not a static file
    "file://otherhost/work/main/printing/static/print.css",
    "ftp://example.com/x",
])
def test_fetcher_refuses_anything_but_our_files_and_data(url):
    with pytest.raises(RefusedURL):
        LocalFetcher()(url)


def test_fetcher_serves_our_stylesheet_and_data_uris():
    fetcher = LocalFetcher()
    assert b"Noto Sans CJK SC" in fetcher(BASE_URL + "static/print.css").read()
    assert fetcher("data:text/plain;base64,5oi35Y2h").read().decode() == "户卡"


def test_a_page_asking_for_a_remote_image_stops_the_render():
    html = '<p>户卡</p><img src="http://127.0.0.1:9/tracker.png">'
    with pytest.raises(FatalURLFetchingError):
        HTML(string=html, base_url=BASE_URL, url_fetcher=LocalFetcher()).write_pdf()
