"""Household cards and card books as print-ready PDF, from plain data (WeasyPrint + qrcode).

No Flask, nothing from `app`. The app fills the frozen dataclasses of printing.model
(display strings, Chinese labels) and calls:

    check_environment() -> None
        Raises PrintingUnavailable, whose message names the Debian package to install,
        unless WeasyPrint's libraries load, WeasyPrint found libharfbuzz-subset
        (libharfbuzz-subset0) and fontconfig finds "Noto Sans CJK SC" (fonts-noto-cjk).
        Cached per process; call it when the app starts. The render functions call it too.

    render_book(book, *, page_size="A4", processes=2, imprint=None) -> bytes
        A bound book: cover (village, township, book number, its card numbers as runs, households,
        print date) on its own leaf, catalogue (slot, card number, head, group and door,
        members, page), then each card's front on a recto page with its back behind it.
        Mirrored binding margins; page numbers continue over the whole book.
        processes > 1: laid out in that many worker processes at once (a forkserver; see
        printing.render._pool_context); 1: in the calling thread, no pool.

    number_runs(card_numbers) -> tuple[Run, ...];  format_runs(card_numbers) -> str
        A book's card numbers as runs, '0001–0096, 0120, 0133–0136': what the cover lists
        (a book's cards are not a range of numbers). Pure.

    render_cards(cards, *, page_size="A4", processes=1, imprint=None) -> bytes
        Reprints: front and back of each card, marked '补印件 第3册 第17号' when the card has
        a book and a slot; no page numbers (the leaves replace numbered leaves of the book).

A card with `transferred_out` set is the page a household left in its old village's book:
its front is marked '已迁出 / transferred out' with the date, the new village and card
number, and its catalogue line says '已迁出 → <village> <card no>' instead of the address.

imprint: an Imprint (user's name, local time) printed as '打印：<name> <YYYY-MM-DD HH:MM>' at
the foot of every page, in the bottom margin under the page number, so it moves nothing on
the page. The app always passes one (the PDFs hold personal data); None only for samples.

page_size: "A4" (portrait, the default) or "A5" (PAGE_SIZES). Errors: ValueError for input
that cannot make a book (Book.check) or an unknown page size; PrintingError and its
subclasses PrintingUnavailable, CardDoesNotFit (a front would need a second page: more than
about 25 members; .card_no) and MissingGlyphs (characters no installed font has; .chars,
.card_nos). Nothing is ever printed in part.

With processes > 1 the caller's main module is imported again in the workers, as with any
forkserver or spawn multiprocessing: a script must keep its work under
`if __name__ == "__main__":` (Flask's, gunicorn's and Huey's entry points do). A daemonic
process (a Huey consumer run with `-k process`) may not start workers: there the book is
laid out in one process, with a logged warning.

Importing this package does not load WeasyPrint; `render_book` and `render_cards` load it
on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from printing.environment import check_environment
from printing.errors import CardDoesNotFit, MissingGlyphs, PrintingError, PrintingUnavailable
from printing.model import (
    BOOK_SLOTS,
    PAGE_SIZES,
    Book,
    Card,
    Imprint,
    MemberRow,
    SignatureBox,
    TransferredOut,
)
from printing.runs import Run, format_runs, number_runs

if TYPE_CHECKING:
    from printing.render import render_book, render_cards

__all__ = [
    "BOOK_SLOTS", "PAGE_SIZES", "Book", "Card", "CardDoesNotFit", "Imprint", "MemberRow", "MissingGlyphs",
    "PrintingError", "PrintingUnavailable", "Run", "SignatureBox", "TransferredOut", "check_environment",
    "format_runs", "number_runs", "render_book", "render_cards",
]


def __getattr__(name: str):
    """render_book and render_cards, imported on first use (WeasyPrint takes 0.3 s to import)."""
    if name in ("render_book", "render_cards"):
        from printing import render

        return getattr(render, name)
    raise AttributeError(f"module 'printing' has no attribute {name!r}")
