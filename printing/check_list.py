"""A spot check's check list (抽查核对表, issue 17) as a print-ready PDF, from plain data.

One table row per main item of each sampled person, as recorded (the value to verify at the
door), with boxes to tick right (对) or wrong (错) and a blank for the value found. Same
rules as the books (printing.render): WeasyPrint with Noto Sans CJK SC, our own files only
(LocalFetcher), a character no installed font has is an error (MissingGlyphs), never a box
on paper; every page carries who printed it (Imprint). No Flask, nothing from `app`.

    render_check_list(check_list, *, imprint=None) -> bytes
"""
from __future__ import annotations

from dataclasses import dataclass

from printing.environment import check_environment
from printing.errors import MissingGlyphs, PrintingError
from printing.model import Imprint


@dataclass(frozen=True)
class CheckItem:
    label: str     # 身份证号码
    recorded: str  # the value as recorded, displayed (code labels, not codes)


@dataclass(frozen=True)
class CheckPerson:
    position: int
    card_no: str
    address: str
    who: str       # 第2位成员（李秀英）, or 全户 for a sample point's household
    items: tuple[CheckItem, ...]


@dataclass(frozen=True)
class CheckList:
    title: str           # 抽查核对表
    village_name: str
    village_code: str
    township_name: str
    facts: tuple[tuple[str, str], ...]  # (label, value): round, seed, population, rate, sample size ...
    persons: tuple[CheckPerson, ...]

    def check(self) -> None:
        if not self.persons:
            raise ValueError("a check list without sampled persons")


def render_check_list(check_list: CheckList, *, imprint: Imprint | None = None) -> bytes:
    """The check list as one PDF (A4 portrait; a person's rows are kept together on a page
    where they fit)."""
    check_environment()
    check_list.check()
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    from printing.fetcher import BASE_URL, LocalFetcher
    from printing.render import _environment, _missing_glyphs, _render_conditions

    html = _environment.get_template("check_list.html").render(doc=check_list,
                                                               imprint=imprint.line() if imprint else "")
    with _render_conditions(), _missing_glyphs() as missing:
        try:
            pdf = HTML(string=html, base_url=BASE_URL, url_fetcher=LocalFetcher()).write_pdf()
        except FatalURLFetchingError as error:  # a BaseException: keep it from escaping as one
            raise PrintingError(str(error)) from None
    if missing:
        chars = "".join(dict.fromkeys(missing))
        cards = tuple(dict.fromkeys(
            p.card_no for p in check_list.persons
            if any(ch in " ".join([p.address, p.who, *(i.recorded for i in p.items)]) for ch in chars)))
        raise MissingGlyphs(chars, cards)
    return pdf
