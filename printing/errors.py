"""What printing raises; importable without loading WeasyPrint."""
from __future__ import annotations


class PrintingError(RuntimeError):
    """A book or card could not be printed as asked; nothing was produced."""


class PrintingUnavailable(PrintingError):
    """The system lacks a library or font that printing needs; the message says what to install."""


class CardDoesNotFit(PrintingError):
    """A card's front (or back) would need more than one page."""

    def __init__(self, card_no: str, page_size: str):
        super().__init__(f"household card {card_no} does not fit on one {page_size} page")
        self.card_no, self.page_size = card_no, page_size

    def __reduce__(self):  # raised in a worker process, pickled back to the caller
        return type(self), (self.card_no, self.page_size)


class MissingGlyphs(PrintingError):
    """Characters that no installed font has: they would print as empty boxes."""

    def __init__(self, chars: str, card_nos: tuple[str, ...]):
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars)
        super().__init__(f"no font has {listed}; used on household card(s) {', '.join(card_nos) or '?'}")
        self.chars, self.card_nos = chars, card_nos

    def __reduce__(self):
        return type(self), (self.chars, self.card_nos)
