"""Books and reprinted cards as print-ready PDF (DESIGN.md §6-§7, PRINTING.md).

A document is cut into chunks of whole cards; each chunk is one WeasyPrint document, the
chunks are laid out in worker processes at once and joined with pypdf. Every card is exactly two
pages (front, back), so the page of every card is known before layout: the catalogue's
page numbers are computed here, each chunk continues the page numbers of the one before,
and after layout every page is checked to hold the section it should (a card that runs
over its page is an error, never a silently shifted book).
"""
from __future__ import annotations

import base64
import functools
import gc
import io
import logging
import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import jinja2
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from printing.environment import check_environment
from printing.errors import CardDoesNotFit, MissingGlyphs, PrintingError
from printing.fetcher import BASE_URL, PACKAGE, LocalFetcher
from printing.model import PAGE_SIZES, Book, Card, Imprint
from printing.qr import QRImage, qr_image
from printing.runs import number_runs

log = logging.getLogger(__name__)
WEASYPRINT_LOG = logging.getLogger("weasyprint")


@dataclass(frozen=True)
class Margins:  # mm; inner is the bound edge
    top: float
    bottom: float
    inner: float
    outer: float


MARGINS = {"A4": Margins(top=12, bottom=14, inner=22, outer=12),
           "A5": Margins(top=9, bottom=12, inner=17, outer=8)}
# Catalogue rows per page: each row is one line (print.css clips long addresses), so a
# catalogue page never breaks on its own and the card pages can be numbered in advance.
CATALOGUE_ROWS = {"A4": 34, "A5": 26}
FRONT_MATTER_LEAD = 2  # the cover and its blank reverse: the catalogue starts on a recto
# A QR module on paper: phones read modules of 0.5 mm and more reliably from a printed page;
# a ~60 character URL is 41 modules with the quiet zone, so 31 mm (A4) or 25 mm (A5) square.
QR_MODULE_MM = {"A4": 0.75, "A5": 0.6}
MIN_MEMBER_ROWS = {"A4": 10, "A5": 8}  # empty lines up to this many, for additions by hand
DENSER_ABOVE = (10, 14)  # member rows beyond which the table uses smaller rows and type


# ------------------------------------------------------------------ public functions

def render_book(book: Book, *, page_size: str = "A4", processes: int = 2, imprint: Imprint | None = None) -> bytes:
    """The PDF of a bound book: cover, catalogue, then the front and back of every card.

    Pages are numbered continuously; card fronts are on recto (odd) pages. `processes` > 1
    lays the book out in that many processes at once (see _pool_context)."""
    check_environment()
    book.check()
    _check_page_size(page_size)
    chunks = _book_chunks(book, page_size, _usable_processes(processes), imprint)
    return _join(_run(chunks), chunks[0].title)


def render_cards(cards: Sequence[Card], *, page_size: str = "A4", processes: int = 1,
                 imprint: Imprint | None = None) -> bytes:
    """Reprinted cards, front and back each, marked with their book and slot ('第3册 第17号')
    so that the clerk can put each leaf back in its place in the bound book. Not page
    numbered (the book's numbers are on the leaves they replace)."""
    check_environment()
    _check_page_size(page_size)
    if not cards:
        raise ValueError("no cards to print")
    common = dict(page_size=page_size, page_numbers=False, reprint=True, title="户卡补印",
                  imprint=imprint.line() if imprint else "")
    chunks, first = [], 0
    for count in _chunk_sizes(len(cards), 0, _usable_processes(processes)):
        chunks.append(_Chunk(**common, first_page=1, first_index=first,
                             cards=tuple(cards[first:first + count])))
        first += count
    return _join(_run(chunks), common["title"])


# ------------------------------------------------------------------ planning (in the caller)

@dataclass(frozen=True)
class _Cover:
    village_code: str
    village_name: str
    township_name: str
    book_no: int
    card_runs: tuple[str, ...]  # '0001–0096', '0120', ...: the book's cards are not a range
    runs_size: str  # 'short', 'long', 'longer': how much room the runs need (print.css .runs-*)
    households: int
    print_date: str


@dataclass(frozen=True)
class _CatalogueRow:
    slot: int
    card_no: str
    head_name: str
    address: str
    members: int
    page: int  # the page of the card's front


@dataclass(frozen=True)
class _Chunk:
    """One WeasyPrint document; sent to a worker process, so plain picklable values."""
    page_size: str
    page_numbers: bool
    reprint: bool
    title: str
    first_page: int  # the number the chunk's first page carries
    first_index: int  # the position of its first card in the whole document (section ids)
    cards: tuple[Card, ...]
    cover: _Cover | None = None  # set on the chunk that starts the book
    catalogue: tuple[tuple[_CatalogueRow, ...], ...] = ()
    catalogue_blank: bool = False
    imprint: str = ""  # '打印：张三 2026-12-07 20:15' at the foot of every page, or ''


def _book_chunks(book: Book, page_size: str, count: int, imprint: Imprint | None = None) -> list[_Chunk]:
    """The book cut into `count` chunks of whole cards (fewer if there are fewer cards); the
    first one starts with the cover and the catalogue."""
    catalogue_pages = _split(book.cards, CATALOGUE_ROWS[page_size])
    catalogue_blank = len(catalogue_pages) % 2 == 1
    lead = FRONT_MATTER_LEAD + len(catalogue_pages) + catalogue_blank  # even: fronts on odd pages
    catalogue = tuple(
        tuple(_CatalogueRow(c.slot, c.card_no, c.head_name, _catalogue_address(c), c.member_count,
                            page=lead + 2 * (i + j * CATALOGUE_ROWS[page_size]) + 1)
              for i, c in enumerate(rows))
        for j, rows in enumerate(catalogue_pages))
    common = dict(page_size=page_size, page_numbers=True, reprint=False,
                  title=f"{book.village_name} 户卡册 第{book.book_no}册", imprint=imprint.line() if imprint else "")
    chunks: list[_Chunk] = []
    first_card = 0
    for size in _chunk_sizes(len(book.cards), lead, count):
        cards = book.cards[first_card:first_card + size]
        if first_card == 0:
            chunks.append(_Chunk(**common, first_page=1, first_index=0, cards=cards, cover=_cover(book),
                                 catalogue=catalogue, catalogue_blank=catalogue_blank))
        else:
            chunks.append(_Chunk(**common, first_page=lead + 2 * first_card + 1, first_index=first_card,
                                 cards=cards))
        first_card += size
    return chunks


# Characters of the card number runs up to which the cover lists them in its facts table at
# the full size, and up to which at a smaller size across the page; beyond that (a book of up to
# 100 scattered numbers: about 600 characters) smaller still. Measured on A4 and A5.
COVER_RUNS_SHORT = 24
COVER_RUNS_LONG = 160


def _cover(book: Book) -> _Cover:
    runs = tuple(str(run) for run in number_runs(c.card_no for c in book.cards))
    length = len(", ".join(runs))
    size = "short" if length <= COVER_RUNS_SHORT else "long" if length <= COVER_RUNS_LONG else "longer"
    return _Cover(book.village_code, book.village_name, book.township_name, book.book_no,
                  runs, size, len(book.cards), _date(book.print_date))


def _address_in_village(card: Card) -> str:
    """The catalogue's address: the cover names the township and village already."""
    return " ".join(part for part in (card.location, card.door) if part) or card.address


def _catalogue_address(card: Card) -> str:
    """A household that moved away lives elsewhere: its line says where to find it instead."""
    moved = card.transferred_out
    if moved is None:
        return _address_in_village(card)
    return f"已迁出 → {moved.to_village} {moved.to_card_no}"


def _chunk_sizes(cards: int, lead: int, chunks: int) -> list[int]:
    """Cards per chunk, balancing pages: the first chunk also carries the `lead` pages of
    cover and catalogue. Never an empty chunk."""
    chunks = max(1, min(chunks, cards))
    target = (lead + 2 * cards) / chunks
    first = max(1, min(cards - (chunks - 1), round((target - lead) / 2)))
    rest = cards - first
    if chunks == 1:
        return [first]
    return [first, *(rest // (chunks - 1) + (i < rest % (chunks - 1)) for i in range(chunks - 1))]


def _split(items: Sequence, size: int) -> list[Sequence]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _check_page_size(page_size: str) -> None:
    if page_size not in PAGE_SIZES:
        raise ValueError(f"page_size must be one of {PAGE_SIZES}, not {page_size!r}")


def _date(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


# ------------------------------------------------------------------ processes

def _usable_processes(processes: int) -> int:
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes > 1 and multiprocessing.current_process().daemon:
        # A daemonic process (e.g. a Huey consumer run with -k process) may not start
        # children; the book is still right, only slower.
        log.warning("printing in one process: this process is daemonic and may not start workers")
        return 1
    return processes


@functools.cache
def _pool_context() -> multiprocessing.context.BaseContext:
    """Worker processes come from a forkserver that has imported this module once.

    Not fork: the caller is a gunicorn worker (threads with gthread), a Huey consumer
    (threads by default) or the CLI, and forking a process that has other threads copies
    their locks in whatever state they are (logging, the database pool, fontconfig), which
    can hang the child. Not spawn: every child would import WeasyPrint again (0.36 s
    measured). The forkserver is a fresh single-threaded interpreter, started on the first
    book and kept while the calling process lives (about 70 MB); it imports this module and
    WeasyPrint once and forks a clean worker from itself in a few ms. Like spawn, a worker
    imports the caller's main module again (see printing/__init__.py).
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _run(chunks: list[_Chunk]) -> list[bytes]:
    if len(chunks) == 1:
        return [_render_chunk(chunks[0])]  # no pool at all
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=_pool_context()) as pool:
        return list(pool.map(_render_chunk, chunks))


def _join(pdfs: list[bytes], title: str) -> bytes:
    if len(pdfs) == 1:
        return pdfs[0]
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ------------------------------------------------------------------ one chunk (in a worker)

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PACKAGE / "templates"),
    autoescape=True,  # names and addresses come from the public
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class _SignatureView:
    role_label: str
    name: str
    signed_on: str
    image: str | None  # data URI


@dataclass(frozen=True)
class _CardView:
    card: Card
    index: int
    qr: QRImage
    qr_mm: float
    print_date: str
    mark: str  # '第3册 第17号', or '' when the card has no slot
    reprint: bool
    transferred_note: str  # '于 2026年5月1日 迁至 银闸社区，新卡号 0003', or '' when it did not move
    density: int  # 0, 1, 2: see DENSER_ABOVE and print.css .rows-N
    empty_rows: int
    signatures: tuple[_SignatureView, ...]


def _card_view(card: Card, index: int, reprint: bool, page_size: str) -> _CardView:
    rows = max(len(card.members), MIN_MEMBER_ROWS[page_size])
    mark = f"第{card.book_no}册 第{card.slot}号" if card.book_no is not None and card.slot is not None else ""
    qr = qr_image(card.qr_url)
    return _CardView(
        card=card, index=index, qr=qr, qr_mm=round(qr.modules * QR_MODULE_MM[page_size], 2),
        print_date=_date(card.print_date),
        mark=mark, reprint=reprint, transferred_note=_transferred_note(card),
        density=sum(rows > limit for limit in DENSER_ABOVE),
        empty_rows=rows - len(card.members),
        signatures=tuple(_SignatureView(s.role_label, s.name or "", _date(s.signed_on) if s.name else "",
                                        _svg_uri(s.svg) if s.svg and s.name else None)
                         for s in card.signatures))


def _transferred_note(card: Card) -> str:
    moved = card.transferred_out
    if moved is None:
        return ""
    return f"于 {_date(moved.on)} 迁至 {moved.to_village}，新卡号 {moved.to_card_no}"


def _svg_uri(svg: str) -> str:
    # An <img>, not inline markup: the signature cannot add anything to the page but a picture.
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _chunk_html(chunk: _Chunk) -> tuple[str, list[str]]:
    """The chunk's HTML and the id of the section each page must hold, in order."""
    cards = [_card_view(card, chunk.first_index + i, chunk.reprint, chunk.page_size)
             for i, card in enumerate(chunk.cards)]
    pages = []
    if chunk.cover:
        pages += ["cover", "cover-verso"] + [f"catalogue-{k}" for k in range(1, len(chunk.catalogue) + 1)]
        pages += ["catalogue-blank"] if chunk.catalogue_blank else []
    for view in cards:
        pages += [f"front-{view.index}", f"back-{view.index}"]
    doc = dict(page_size=chunk.page_size, size_class=chunk.page_size.lower(),
               margins=MARGINS[chunk.page_size], first_page=chunk.first_page,
               page_numbers=chunk.page_numbers, title=chunk.title, cover=chunk.cover,
               catalogue=chunk.catalogue, catalogue_blank=chunk.catalogue_blank, cards=cards,
               imprint=chunk.imprint)
    return _environment.get_template("document.html").render(doc=doc), pages


def _render_chunk(chunk: _Chunk) -> bytes:
    with _render_conditions(), _missing_glyphs() as missing:
        html, expected = _chunk_html(chunk)
        try:
            document = HTML(string=html, base_url=BASE_URL, url_fetcher=LocalFetcher()).render()
        except FatalURLFetchingError as error:  # a BaseException: keep it from escaping as one
            raise PrintingError(str(error)) from None
        _check_pages(document, expected, chunk)
        pdf = document.write_pdf()  # glyphs are looked up while drawing
    if missing:
        chars = "".join(dict.fromkeys(missing))
        texts = {c.card_no: _card_text(c) for c in chunk.cards}
        for row in (r for rows in chunk.catalogue for r in rows):  # all cards' heads and addresses
            texts[row.card_no] = texts.get(row.card_no, "") + row.head_name + row.address
        raise MissingGlyphs(chars, tuple(no for no, text in texts.items() if any(ch in text for ch in chars)))
    return pdf


def _card_text(card: Card) -> str:
    members = (v for m in card.members for v in (m.name, m.relationship, m.sex, m.birth_date,
                                                 m.id_number, m.hukou_type, m.status))
    return " ".join([card.card_no, card.village_name, card.township_name, card.location, card.door,
                     card.address, card.household_type, card.head_name, _transferred_note(card), *members,
                     *(s.role_label + (s.name or "") for s in card.signatures)])


def _check_pages(document, expected: list[str], chunk: _Chunk) -> None:
    """Every page holds the one section it should: otherwise a section ran over."""
    actual = [page.anchors for page in document.pages]
    for number, section in enumerate(expected):
        if number >= len(actual) or section not in actual[number]:
            _raise_overflow(expected[number - 1] if number else section, chunk)
    if len(actual) != len(expected):
        _raise_overflow(expected[-1], chunk)


def _raise_overflow(section: str, chunk: _Chunk) -> None:
    kind, _, index = section.partition("-")
    if kind in ("front", "back"):
        raise CardDoesNotFit(chunk.cards[int(index) - chunk.first_index].card_no, chunk.page_size)
    raise PrintingError(f"the {section} page of the book runs over its page ({chunk.page_size})")


_state_lock = threading.Lock()
_renders = 0
_saved: tuple[bool, int, bool] = (True, logging.NOTSET, False)


@contextmanager
def _render_conditions() -> Iterator[None]:
    """While any render runs in this process: Python's garbage collector paused (it would
    walk WeasyPrint's millions of layout objects again and again; PRINTING.md) and
    WeasyPrint's warnings enabled, whatever the logging set-up, so that _missing_glyphs
    hears them. Counted, so that concurrent renders in threads restore it once, at the end."""
    global _renders, _saved
    with _state_lock:
        if _renders == 0:
            _saved = (gc.isenabled(), WEASYPRINT_LOG.level, WEASYPRINT_LOG.disabled)
            gc.disable()
            if WEASYPRINT_LOG.getEffectiveLevel() > logging.WARNING:
                WEASYPRINT_LOG.setLevel(logging.WARNING)
            WEASYPRINT_LOG.disabled = False
        _renders += 1
    try:
        yield
    finally:
        with _state_lock:
            _renders -= 1
            if _renders == 0:
                gc_enabled, level, disabled = _saved
                WEASYPRINT_LOG.setLevel(level)
                WEASYPRINT_LOG.disabled = disabled
                if gc_enabled:
                    gc.enable()


class _GlyphWatch(logging.Handler):
    """Collects the characters of WeasyPrint's '.notdef glyph rendered' warnings of one thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.chars: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and str(record.msg).startswith(".notdef glyph"):
            self.chars.append(record.args[0])


@contextmanager
def _missing_glyphs() -> Iterator[list[str]]:
    watch = _GlyphWatch()
    WEASYPRINT_LOG.addHandler(watch)
    try:
        yield watch.chars
    finally:
        WEASYPRINT_LOG.removeHandler(watch)
