"""The character rule of every text value (issue 15, item 8): what is refused, what real names
and addresses keep, and the import variant that removes and flags instead of refusing.
The same table is run through collect.js's port in tests/browser/test_input_limits_browser.py."""
from __future__ import annotations

import datetime as dt

import pytest

from collection_forms import load_form
from collection_forms.characters import clean_text, code_points, refused_characters
from collection_forms.validate import REFUSING_RULES, check
from tests.support.households import family

# (text, multiline, the refused characters found). Shared with the browser test.
TABLE: list[tuple[str, bool, list[str]]] = [
    # refused: C0 controls, DEL, C1 controls
    ("张\x00三", False, ["\x00"]),
    ("张\x01三\x1f", False, ["\x01", "\x1f"]),
    ("张\x7f三", False, ["\x7f"]),
    ("张\x85三\x9f", False, ["\x85", "\x9f"]),
    # tab and line breaks: refused in a one-line field, kept in a multi-line one
    ("幸福路\t8号", False, ["\t"]),
    ("第一行\n第二行\r\n", False, ["\n", "\r"]),
    ("第一行\n第二行\r\n\t缩进", True, []),
    ("备注\x00", True, ["\x00"]),
    ("备注\x0b\x0c", True, ["\x0b", "\x0c"]),
    # invisible format characters: zero width space, non-joiner, joiner, LRM, RLM
    ("张\u200b三", False, ["\u200b"]),
    ("张\u200c\u200d三", False, ["\u200c", "\u200d"]),
    ("\u200e张三\u200f", False, ["\u200e", "\u200f"]),
    # bidi embeddings and overrides, isolates; the right-to-left override of issue 15
    ("张三\u202e", False, ["\u202e"]),
    ("\u202a\u202b\u202c\u202d", False, ["\u202a", "\u202b", "\u202c", "\u202d"]),
    ("\u2066张\u2067三\u2068\u2069", False, ["\u2066", "\u2067", "\u2068", "\u2069"]),
    # word joiner, BOM, soft hyphen, a tag character, line and paragraph separators
    ("\ufeff张三\u2060", False, ["\ufeff", "\u2060"]),
    ("Zhang\u00adSan", False, ["\u00ad"]),
    ("张三\U000e0041", False, ["\U000e0041"]),
    ("第一行\u2028第二行\u2029", True, ["\u2028", "\u2029"]),
    # lone surrogates (a JSON "\ud800"), high and low
    ("张\ud800三", False, ["\ud800"]),
    ("张三\udfff", False, ["\udfff"]),
    # kept: what real names and addresses need
    ("吉𠮷", False, []),                        # U+20BB7, outside the BMP
    ("买买提·艾力", False, []),                  # U+00B7, the standard separator dot
    ("买买提・艾力", False, []),                 # U+30FB katakana middle dot: accepted as typed
    ("买买提•艾力", False, []),                  # U+2022 bullet: accepted as typed
    ("买买提‧艾力", False, []),                  # U+2027 hyphenation point: accepted as typed
    ("幸福路 8 号 3 单元", False, []),           # ordinary spaces
    ("幸福路\u3000八号", False, []),             # ideographic space
    ("阿依古丽\u00a0", False, []),              # no-break space (a separator, visible as one)
    ("\ue000字", False, []),                    # private use: older systems' 生僻字
    ("葛\U000e0100", False, []),                # a variation selector (a glyph variant)
    ("Zoë Ĉapek", False, []),
    ("Jose\u0301", False, []),                  # a combining accent
    ("", False, []),
]


@pytest.mark.parametrize("text, multiline, found", TABLE)
def test_refused_characters(text, multiline, found):
    assert refused_characters(text, multiline=multiline) == found


@pytest.mark.parametrize("text, multiline, found", TABLE)
def test_clean_text_removes_exactly_the_refused_characters_and_flags_them(text, multiline, found):
    cleaned, flagged = clean_text(text, multiline=multiline)
    assert flagged == bool(found)
    assert refused_characters(cleaned, multiline=multiline) == []
    if not found:
        assert cleaned == text  # nothing of a good value is touched


@pytest.mark.parametrize("text, multiline, cleaned", [
    ("张\u202e三", False, "张三"),
    ("张\x00三\u200d", False, "张三"),
    ("幸福路\t8号", False, "幸福路 8号"),           # a separator becomes a space
    ("第一行\r\n第二行", False, "第一行  第二行"),
    ("行\u2028行", True, "行 行"),
    ("𠮷\ud800", False, "𠮷"),
])
def test_clean_text_of_an_imported_value(text, multiline, cleaned):
    assert clean_text(text, multiline=multiline) == (cleaned, True)


def test_clean_text_keeps_line_breaks_where_lines_are_allowed():
    assert clean_text("第一行\r\n第二行", multiline=True) == ("第一行\r\n第二行", False)


def test_code_points_name_characters_that_cannot_be_shown():
    assert code_points(["\x00", "\u202e", "\U000e0041"]) == "U+0000、U+202E、U+E0041"


# ------------------------------------------------------------------ in the field checks

TODAY = dt.date(2026, 11, 23)


def issues_of(data):
    return [(i.rule, i.path, i.message["zh"]) for i in check(data, load_form(), TODAY)[1]
            if i.rule in REFUSING_RULES]


@pytest.mark.parametrize("char", ["\x00", "\u202e", "\u200d", "\ud800"])
def test_a_refused_character_in_any_text_field_is_named_in_chinese(char):
    data = family()
    data["members"][1]["name"] = f"李{char}秀英"
    data["household"]["door_no"] = f"8{char}号"
    data["members"][2]["hukou_place"] = f"北京{char}"
    point = f"U+{ord(char):04X}"
    found = issues_of(data)
    assert [(r, p) for r, p, _m in found] == [("field.chars", "household.door_no"),
                                             ("field.chars", "members[1].name"),
                                             ("field.chars", "members[2].hukou_place")]
    assert found[0][2] == f"本户的门牌号含有不允许的控制字符或不可见字符（{point}），请删除后重新填写"
    # The member whose name is refused is named by position only: the message carries no override.
    assert found[1][2].startswith("第2位成员的姓名含有不允许的控制字符") and char not in found[1][2]
    assert found[2][2].startswith("第3位成员（张伟）的户籍地含有")


def test_line_breaks_are_kept_in_notes_and_refused_in_a_name():
    data = family()
    data["household"]["notes"] = "第一行\r\n第二行"
    data["members"][0]["name"] = "张\n建国"
    clean, issues = check(data, load_form(), TODAY)
    assert [(i.rule, i.path) for i in issues if i.rule in REFUSING_RULES] == [("field.chars", "members[0].name")]
    assert clean["household"]["notes"] == "第一行\r\n第二行"


def test_real_names_pass_and_are_stored_as_typed():
    data = family()
    names = ["吉𠮷", "买买提·艾力", "阿依古丽・买买提", "Zoë Ĉapek"]
    for m, name in zip(data["members"], names):
        m["name"] = name
    data["household"]["door_no"] = "幸福路 8 号"
    clean, issues = check(data, load_form(), TODAY)
    assert not [i for i in issues if i.rule in REFUSING_RULES]
    assert [m["name"] for m in clean["members"]] == names and clean["household"]["door_no"] == "幸福路 8 号"
