"""A spot check's check list rendered for real and read back (printing/check_list.py): every
sampled person's items with their recorded values and the right/wrong boxes, rare name
characters in the CJK font, a character no font has refused naming its card, data escaped."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from pypdf import PdfReader

from printing import Imprint, MissingGlyphs
from printing.check_list import CheckItem, CheckList, CheckPerson, render_check_list


def check_list(*persons: CheckPerson) -> CheckList:
    return CheckList(title="抽查核对表", village_name="多福巷社区", village_code="110101001001",
                     township_name="东华门街道", facts=(("抽样种子", "20261208-110101001001"), ("抽样数", "2")),
                     persons=persons)


def person(position: int, card_no: str, name: str) -> CheckPerson:
    return CheckPerson(position, card_no, "第一组 3号", f"第2位成员（{name}）",
                       (CheckItem("姓名", name), CheckItem("身份证号码", "110101198805020021"),
                        CheckItem("婚姻状况", "初婚有配偶（20）")))


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_every_person_and_item_is_on_the_list_with_boxes_and_the_imprint():
    pdf = render_check_list(check_list(person(1, "0007", "李秀英"), person(2, "0012", "𠮷明")),
                            imprint=Imprint("王审核", datetime(2026, 12, 8, 9, 30)))
    text = text_of(pdf)
    for expected in ("抽查核对表", "多福巷社区", "20261208-110101001001", "户卡编号 0007", "户卡编号 0012",
                     "第2位成员（李秀英）", "𠮷明", "110101198805020021", "初婚有配偶（20）", "核实值",
                     "打印：王审核 2026-12-08 09:30"):
        assert expected in text, expected
    assert text.count("□") == 2 * 3 * 2  # right and wrong, per item, per person


def test_a_character_without_font_fails_naming_its_card():
    with pytest.raises(MissingGlyphs) as missing:
        render_check_list(check_list(person(1, "0007", "李秀英"), person(2, "0031", "张\ue000")))
    assert missing.value.chars == "\ue000" and missing.value.card_nos == ("0031",)


def test_data_is_escaped_and_an_empty_list_is_refused():
    assert "<b>王</b>" in text_of(render_check_list(check_list(person(1, "0007", "<b>王</b>"))))
    with pytest.raises(ValueError):
        render_check_list(check_list())
