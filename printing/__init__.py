"""Household cards and card books as print-ready PDF, from plain data (WeasyPrint + qrcode).

No Flask, nothing from `app`: the app gathers the values into the frozen dataclasses of
printing.model and calls

    check_environment() -> None
        Raises PrintingUnavailable (its message names the Debian package to install) unless
        WeasyPrint's libraries load, fontconfig finds "Noto Sans CJK SC" (fonts-noto-cjk)
        and WeasyPrint found libharfbuzz-subset (libharfbuzz-subset0). Cached per process;
        the render functions call it first.

    render_book(book, *, page_size="A4", processes=2) -> bytes
        A bound book: cover (own leaf), catalogue (slot, card number, head, address,
        members, page), then each card's front on a recto page and its back behind it.
        Mirrored binding margins, continuous page numbers. `processes` > 1 lays out the
        book in that many chunks at once in worker processes (forkserver); 1 uses none.

    render_cards(cards, *, page_size="A4", processes=1) -> bytes
        Reprints: front and back of each card, marked '补印件 第3册 第17号' (book and slot)
        when the card has them.

page_size is "A4" (portrait, default) or "A5". Errors: ValueError for inputs that cannot
make a book (see Book.check); PrintingError, with the subclasses CardDoesNotFit (a front
would need a second page; .card_no) and MissingGlyphs (characters no font has; .chars,
.card_nos). Nothing is printed in part.
"""
from printing.environment import PrintingUnavailable, check_environment
from printing.model import BOOK_SLOTS, Book, Card, MemberRow, SignatureBox
from printing.render import (PAGE_SIZES, CardDoesNotFit, MissingGlyphs, PrintingError, render_book,
                             render_cards)

__all__ = [
    "BOOK_SLOTS", "PAGE_SIZES", "Book", "Card", "CardDoesNotFit", "MemberRow", "MissingGlyphs",
    "PrintingError", "PrintingUnavailable", "SignatureBox", "check_environment", "render_book",
    "render_cards",
]
