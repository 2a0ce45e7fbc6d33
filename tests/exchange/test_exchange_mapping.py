"""exchange.propose_mapping: Chinese, English and linkage headers, ambiguity, overrides."""
from __future__ import annotations

import pytest

from exchange import FIELDS, MappingError, parse_map_option, propose_mapping, required_fields


def test_chinese_headers_with_marks_spaces_and_full_width_brackets():
    columns = ["序号", "*姓名", "公民身份号码", "出生日期（年月日）", " 性 别 ", "与户主关系", "户号",
               "户卡编号", "住址", "村（居）委会", "民族", "联系电话", "备注"]
    p = propose_mapping(columns, "register")
    assert p.fields == {"name": "*姓名", "sex": " 性 别 ", "birth_date": "出生日期（年月日）",
                        "id_number": "公民身份号码", "village": "村（居）委会", "card_no": "户卡编号",
                        "household_no": "户号", "relation": "与户主关系", "address": "住址",
                        "ethnicity": "民族", "phone": "联系电话"}
    assert p.extras == ["序号", "备注"] and p.complete and p.missing == [] and p.ambiguous == {}


@pytest.mark.parametrize("column, field", [
    ("名字", "name"), ("身份证号", "id_number"), ("身份证号码", "id_number"), ("证件号码", "id_number"),
    ("出生年月", "birth_date"), ("卡号", "card_no"), ("地址", "address"), ("村", "village"),
    ("社区", "village"), ("村代码", "village"), ("死亡日期", "death_date"), ("母亲姓名", "mother_name"),
    ("母亲身份证号", "mother_id_number"), ("医院", "hospital"), ("出生医院", "hospital"),
    ("编号", "record_id"), ("记录号", "record_id"), ("Name", "name"), ("ID_NUMBER", "id_number"),
    ("姓名：", "name"), ("姓　名", "name"), ("＊身份证号", "id_number"),
])
def test_one_header(column, field):
    assert propose_mapping([column], "other").fields == {field: column}


def test_linkage_headers():
    police = ["record_id", "name", "sex", "birth_date", "id_number", "village_code", "household_no",
              "relation", "address"]
    p = propose_mapping(police, "police")
    assert p.fields["village"] == "village_code" and p.complete and p.extras == []
    assert set(p.fields) == {"record_id", "name", "sex", "birth_date", "id_number", "village",
                             "household_no", "relation", "address"}
    births = ["record_id", "name", "sex", "birth_date", "id_number", "village_code", "address",
              "mother_name", "mother_id_number", "hospital"]
    assert propose_mapping(births, "births").extras == []
    deaths = ["record_id", "name", "sex", "birth_date", "id_number", "village_code", "address", "death_date"]
    assert propose_mapping(deaths, "deaths").fields["death_date"] == "death_date"
    collected = ["record_id", "name", "sex", "birth_date", "id_number", "village_code", "card_no",
                 "relation", "address"]
    assert propose_mapping(collected, "register").fields["card_no"] == "card_no"


def test_required_fields_per_source():
    assert required_fields("police") == ("name",)
    assert set(required_fields("deaths")) == {"name", "death_date"}
    assert set(required_fields("births")) == {"name", "birth_date"}
    p = propose_mapping(["姓名", "出生日期"], "deaths")
    assert p.missing == ["death_date"] and not p.complete
    with pytest.raises(MappingError):
        propose_mapping(["姓名"], "nowhere")


def test_two_columns_for_one_field_are_ambiguous_until_chosen():
    p = propose_mapping(["姓名", "身份证号", "公民身份号码", "村", "村代码"], "police")
    assert p.ambiguous == {"id_number": ["身份证号", "公民身份号码"], "village": ["村", "村代码"]}
    assert "id_number" not in p.fields and not p.complete
    chosen = p.with_overrides({"公民身份号码": "id_number", "村": "village"})
    assert chosen.fields["id_number"] == "公民身份号码" and chosen.fields["village"] == "村"
    assert chosen.ambiguous == {} and chosen.complete
    assert set(chosen.extras) == {"身份证号", "村代码"}
    # Unmapping one of two leaves the other alone: no longer ambiguous.
    one = p.with_overrides({"身份证号": ""})
    assert one.ambiguous == {"village": ["村", "村代码"]}


def test_overrides_place_an_unknown_column_and_move_a_field():
    p = propose_mapping(["人名", "姓名", "备注"], "other")
    assert p.fields == {"name": "姓名"} and p.extras == ["人名", "备注"]
    q = p.with_overrides({"人名": "name"})
    assert q.fields == {"name": "人名"} and q.extras == ["姓名", "备注"]
    r = q.with_overrides({"人名": ""})
    assert r.fields == {} and r.missing == ["name"]
    with pytest.raises(MappingError) as e:
        p.with_overrides({"没有这列": "name"})
    assert e.value.reason == "column.unknown" and e.value.message["zh"]
    with pytest.raises(MappingError) as e:
        p.with_overrides({"人名": "nickname"})
    assert e.value.reason == "field.unknown"


def test_parse_map_option():
    assert parse_map_option("身份证号=id_number") == ("身份证号", "id_number")
    assert parse_map_option(" 备注 = ") == ("备注", "")
    assert parse_map_option("a=b=name") == ("a=b", "name")
    for bad in ("身份证号", "=name", "身份证号=idcard"):
        with pytest.raises(ValueError) as e:
            parse_map_option(bad)
        assert e.value.message["zh"] and e.value.message["en"]


def test_every_field_has_a_proposal_for_its_own_name():
    for field in FIELDS:
        assert field in propose_mapping([field], "other").fields
