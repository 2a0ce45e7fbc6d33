"""The rule registry: every rule as a record a clerk can read (id, level, scope, title, why)
and the check that produces it. Several rules share one check (the field checks of
collection_forms produce all field.* and id.* rules in one pass); a run calls each check once.

Checks within one household take (data, today) and return Issues; the field check comes first
and also returns the cleaned data the others read (quality.run). Checks across households
take person rows and yield Findings (quality.across).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from collection_forms import Issue
from quality.across import dead_active_elsewhere, id_in_two_households, spouse_not_mutual
from quality.married_women import RELATIONS, check_married_women
from quality.persons import check_persons
from quality import household
from quality.findings import Level, Scope, Text

HOUSEHOLD_CHECK = "household"
ACROSS_CHECK = "across_households"


@dataclass(frozen=True, eq=False)
class Check:
    """A function that produces one or more rules."""
    name: str                  # where it lives, for people: "collection_forms.validate.check"
    kind: str                  # HOUSEHOLD_CHECK (data, today) -> [Issue] or ACROSS_CHECK (rows) -> Findings
    run: Callable[..., Any] | None  # None for the field checks: quality.run calls collection_forms.check
    at_save: bool              # run at every save of a household (today's save-time rules)


FIELD_CHECKS = Check("collection_forms.validate.check", HOUSEHOLD_CHECK, None, True)
HOUSEHOLD_RULES = Check("quality.household.check_household_rules", HOUSEHOLD_CHECK,
                        lambda data, today: household.check_household_rules(data), True)
PERSON_RULES = Check("quality.check_persons", HOUSEHOLD_CHECK, check_persons, False)
MARRIED_WOMEN = Check("quality.check_married_women", HOUSEHOLD_CHECK,
                      check_married_women, False)
ID_TWICE = Check("quality.across.id_in_two_households", ACROSS_CHECK, id_in_two_households, False)
DEAD_ACTIVE = Check("quality.across.dead_active_elsewhere", ACROSS_CHECK, dead_active_elsewhere, False)
SPOUSE_LINKS = Check("quality.across.spouse_not_mutual", ACROSS_CHECK, spouse_not_mutual, False)
CHECKS: tuple[Check, ...] = (FIELD_CHECKS, HOUSEHOLD_RULES, PERSON_RULES, MARRIED_WOMEN,
                             ID_TWICE, DEAD_ACTIVE, SPOUSE_LINKS)


@dataclass(frozen=True, eq=False)
class Rule:
    id: str            # stable: stored with findings, used in tests and statistics
    level: Level       # error: wrong, blocks "complete" where it runs at save; warning: to check
    scope: Scope       # person, household, across_households, married_woman
    title: Text        # {"zh", "en"}: what holds when the rule passes
    why: Text          # {"zh", "en"}: the reason (the seed's, or the law's)
    check: Check
    checklist: str | None = None  # the seed's check list item (篇12) it answers, if any
    relation: int | None = None   # 1-10: one of a married woman's ten logic relations

    @property
    def at_save(self) -> bool:
        return self.check.at_save

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "scope": self.scope, "title_zh": self.title["zh"],
                "title_en": self.title["en"], "why_zh": self.why["zh"], "why_en": self.why["en"]}


def _t(zh: str, en: str) -> Text:
    return {"zh": zh, "en": en}


WHY_FORM = _t("登记表的规定（字段、代码、格式）", "what the registration form asks of the field")
WHY_ID = _t("公民身份号码国家标准 GB 11643", "the resident ID number standard GB 11643")
WHY_LIMIT = _t("超长、含控制字符或超出人数上限的数据拒绝保存（issue 15）",
               "over-long values, control characters and too many members are refused (issue 15)")

# (id, level, scope, title, why, check, checklist, relation)
_RULES: list[Rule] = [
    # ---- field checks (collection_forms.validate), at every save
    Rule("field.required", "error", "person", _t("必填项已填写", "Required items are filled in"), WHY_FORM,
         FIELD_CHECKS),
    Rule("field.type", "error", "person", _t("数据类型正确", "Values are of the right kind"), WHY_FORM, FIELD_CHECKS),
    Rule("field.date", "error", "person", _t("日期有效（年-月-日）", "Dates are valid (YYYY-MM-DD)"), WHY_FORM,
         FIELD_CHECKS),
    Rule("field.date_range", "error", "person", _t("日期在1900年至今天之间", "Dates lie between 1900 and today"),
         WHY_FORM, FIELD_CHECKS),
    Rule("field.integer", "error", "person", _t("数值为整数", "Numbers are whole numbers"), WHY_FORM, FIELD_CHECKS),
    Rule("field.range", "error", "person", _t("数值在允许范围内", "Numbers lie in their range"), WHY_FORM,
         FIELD_CHECKS),
    Rule("field.length", "error", "person", _t("文字不超过长度上限", "Text is within its length limit"),
         WHY_LIMIT, FIELD_CHECKS),
    Rule("field.chars", "error", "person", _t("文字不含控制字符或不可见字符", "Text has no control or invisible characters"),
         WHY_LIMIT, FIELD_CHECKS),
    Rule("field.code", "error", "person", _t("代码为可选代码", "Codes are allowed codes"), WHY_FORM, FIELD_CHECKS),
    Rule("field.phone", "error", "household", _t("电话号码有效", "Phone numbers are valid"), WHY_FORM, FIELD_CHECKS),
    Rule("field.member_ref", "error", "person", _t("配偶为本户另一位成员", "A spouse reference names another member"),
         WHY_FORM, FIELD_CHECKS),
    Rule("field.unknown", "error", "household", _t("没有未知数据项", "No unknown items"), WHY_FORM, FIELD_CHECKS),
    Rule("form.shape", "error", "household", _t("数据结构正确", "The data has the form's shape"), WHY_FORM,
         FIELD_CHECKS),
    Rule("member.person_id", "error", "person", _t("人员编号有效且户内唯一", "Person ids are valid and unique in the household"),
         _t("人员编号终身不变，是版本之间认人的依据", "a person id is kept for life and links a person across versions"),
         FIELD_CHECKS),
    Rule("members.count", "error", "household", _t("成员人数不超过上限", "Members within the form's limit"),
         WHY_LIMIT, FIELD_CHECKS),
    Rule("id.length", "error", "person", _t("身份证号码为18位", "ID numbers have 18 characters"), WHY_ID,
         FIELD_CHECKS, checklist="id_wrong"),
    Rule("id.format", "error", "person", _t("身份证号码由17位数字和数字或X组成", "ID numbers are 17 digits and a digit or X"),
         WHY_ID, FIELD_CHECKS, checklist="id_wrong"),
    Rule("id.checksum", "error", "person", _t("身份证号码校验位正确", "ID numbers have the right check digit"), WHY_ID,
         FIELD_CHECKS, checklist="id_wrong"),
    Rule("id.date", "error", "person", _t("身份证号码中的出生日期存在", "The birth date in an ID number exists"), WHY_ID,
         FIELD_CHECKS, checklist="id_wrong"),
    Rule("id.region", "warning", "person", _t("身份证号码的地区码已知", "The region code of an ID number is known"),
         _t("地区码表来自公开资料，并不完整：只提醒核对", "the region table is public and incomplete: a reminder only"),
         FIELD_CHECKS),
    Rule("id.birth_date_mismatch", "error", "person",
         _t("身份证号码与出生日期一致", "ID number and birth date agree"),
         _t("号码第7-14位是出生日期（GB 11643）", "digits 7-14 of the number are the birth date (GB 11643)"),
         FIELD_CHECKS, checklist="id_wrong"),
    Rule("id.sex_mismatch", "error", "person", _t("身份证号码与性别一致", "ID number and sex agree"),
         _t("号码第17位奇数为男、偶数为女（GB 11643）", "an odd 17th digit is a man, even a woman (GB 11643)"),
         FIELD_CHECKS, checklist="id_wrong"),
    # ---- household rules (quality.household), at every save
    Rule("household.no_head", "error", "household", _t("本户有户主", "The household has a head"),
         _t("每户有且只有一位户主", "a household has exactly one head"), HOUSEHOLD_RULES, checklist="logic"),
    Rule("household.several_heads", "error", "household", _t("本户只有一位户主", "The household has one head only"),
         _t("每户有且只有一位户主", "a household has exactly one head"), HOUSEHOLD_RULES, checklist="logic"),
    Rule("household.child_age", "error", "household", _t("子女比户主年轻15岁以上", "Children are 15+ years younger than the head"),
         _t("登记规则要求亲生父母与子女相差至少15岁", "the registration rules ask 15 years between parent and child"),
         HOUSEHOLD_RULES, checklist="logic"),
    Rule("household.parent_age", "error", "household", _t("父母比户主年长15岁以上", "Parents are 15+ years older than the head"),
         _t("登记规则要求亲生父母与子女相差至少15岁", "the registration rules ask 15 years between parent and child"),
         HOUSEHOLD_RULES, checklist="logic"),
    Rule("household.marriage_age", "warning", "household",
         _t("夫妻结婚时达到法定婚龄", "Both spouses were of legal age on the marriage date"),
         _t("婚姻法：男22、女20周岁（1981年前男20、女18）", "Marriage Law: men 22, women 20 (before 1981: 20 and 18)"),
         HOUSEHOLD_RULES, checklist="logic"),
    Rule("household.duplicate_id", "error", "household", _t("户内身份证号码不重复", "An ID number appears once in a household"),
         _t("一人一号；重复号码说明重复登记或录错", "one number per person: a repeat is a duplicate or a typing error"),
         HOUSEHOLD_RULES, checklist="duplicate"),
    Rule("birth.mother_too_young", "error", "person", _t("母亲生育时已满14岁", "A mother was 14 or older at a birth"),
         _t("不满14岁的母亲不可能，是日期或母亲录错（issue 14）", "a mother under 14 is a wrong date or mother (issue 14)"),
         HOUSEHOLD_RULES, checklist="logic"),
    Rule("birth.mother_young", "warning", "person", _t("母亲生育时已满16岁", "A mother was 16 or older at a birth"),
         _t("14-15岁生育少见，需核对", "a birth at 14 or 15 is rare: check it"), HOUSEHOLD_RULES, checklist="logic"),
    Rule("birth.mother_old", "warning", "person", _t("母亲生育时不超过55岁", "A mother was 55 or younger at a birth"),
         _t("55岁以后生育少见，需核对", "a birth after 55 is rare: check it"), HOUSEHOLD_RULES, checklist="logic"),
    # ---- the seed's check list (quality.persons), registry runs
    Rule("person.id_missing", "error", "person", _t("16周岁以上的人有身份证号码", "Persons 16 and older have an ID number"),
         _t("验收核查清单（篇12）：缺身份证号码；16周岁起须申领居民身份证",
            "the seed's check list: missing ID numbers; an ID card is compulsory from 16"),
         PERSON_RULES, checklist="id_missing"),
    Rule("person.unmarried_of_age", "warning", "person",
         _t("已婚迹象与婚姻状况一致", "Signs of a marriage agree with the marital status"),
         _t("验收核查清单（篇12）：达婚龄妇女未婚；户内关系显示已婚而登记未婚，会漏计已婚育龄妇女",
            "the seed's check list: women of marrying age not married; one the household shows married "
            "but recorded unmarried is missing from the married women counted"),
         PERSON_RULES, checklist="unmarried_of_age"),
    # ---- across households (quality.across), registry runs
    Rule("across.id_in_two_households", "error", "across_households",
         _t("一个身份证号码只在一户中为正常人员", "An ID number is active in one household only"),
         _t("验收核查清单（篇12）：重复人口；户不漏人，也不重登", "the seed's check list: duplicate persons"),
         ID_TWICE, checklist="duplicate"),
    Rule("across.dead_active_elsewhere", "error", "across_households",
         _t("已死亡注销的人不在他户为正常人员", "A person cancelled as dead is not active elsewhere"),
         _t("死亡注销与他户在册互相矛盾，其中一条记录有误", "dead in one household and living in another: one is wrong"),
         DEAD_ACTIVE, checklist="logic"),
    Rule("across.spouse_not_mutual", "error", "across_households",
         _t("按身份证号码登记的配偶互相对应", "A spouse named by ID number agrees with his own record"),
         _t("配偶关系是双向的：对方应为异性、已婚，且不是他人的配偶", "a marriage has two sides: the other "
            "person is of the other sex, married, and nobody else's spouse"),
         SPOUSE_LINKS, checklist="spouse_missing"),
]

# ---- the ten logic relations of a married woman (quality.married_women), registry runs
_RELATION_TEXT: dict[str, tuple[Text, Text, str | None]] = {
    "mw.id_agrees": (_t("身份证号码表明是该出生日期的女性", "Her ID number says a woman born on her birth date"),
                     _t("已婚育龄妇女按出生日期认定为15-49周岁，号码须支持这一点",
                        "she is counted as 15-49 by her birth date; her number must say the same"), "id_wrong"),
    "mw.marriage_date": (_t("已婚者有结婚日期", "Married with a date of marriage"),
                         _t("婚姻状况与结婚日期是一对逻辑关系", "marital status and marriage date go together"), None),
    "mw.marriage_age": (_t("结婚时达到法定婚龄", "Of legal marriage age when married"),
                        _t("婚姻法：女20周岁（1981年前18周岁）", "Marriage Law: women 20 (before 1981: 18)"), None),
    "mw.marriage_not_future": (_t("结婚日期不晚于今天", "Marriage date not after today"),
                               _t("未来的结婚日期不可能", "a marriage cannot lie in the future"), None),
    "mw.children_count": (_t("生育男孩、女孩数已填且不少于户内子女", "Boys and girls born filled, not fewer than her children present"),
                          _t("户内她的子女都应计入生育数", "her children in the household are among those she bore"), None),
    "mw.youngest_given": (_t("有孩子时填写最小孩子出生日期和性别，且与男女孩数相符",
                             "With children: the youngest child's date and sex given, agreeing with the counts"),
                          _t("最小孩子信息是生育情况的一部分", "the youngest child belongs to the births she reports"), None),
    "mw.youngest_present": (_t("最小孩子与户内最小子女一致", "The youngest child matches the youngest child present"),
                            _t("同一个孩子在两处登记应相同", "one child recorded twice must agree"), None),
    "mw.mother_age": (_t("孩子出生时她已满15周岁", "She was 15 or older at each child's birth"),
                      _t("15岁前生育极少，多为日期录错", "a birth before 15 is very rare, usually a wrong date"), None),
    "mw.spouse_given": (_t("配偶姓名和身份证号码已填（或选本户成员）", "The spouse's name and ID number given (or a member chosen)"),
                        _t("验收核查清单（篇12）：缺配偶信息", "the seed's check list: missing spouse information"),
                        "spouse_missing"),
    "mw.spouse_consistent": (_t("配偶为异性、已婚，与其成员记录一致", "The spouse is a married man, agreeing with his member row"),
                             _t("配偶关系两边的记录应互相印证", "both sides of a marriage must agree"), "spouse_missing"),
}
for _n, (_rule, _level, _fn) in enumerate(RELATIONS, start=1):
    _title, _why, _item = _RELATION_TEXT[_rule]
    _RULES.append(Rule(_rule, _level, "married_woman", _title,  # type: ignore[arg-type]
                       {"zh": f"逻辑关系{_n}/10：{_why['zh']}", "en": f"Logic relation {_n} of 10: {_why['en']}"},
                       MARRIED_WOMEN, checklist=_item or "logic", relation=_n))

_BY_ID: dict[str, Rule] = {r.id: r for r in _RULES}
if len(_BY_ID) != len(_RULES):
    raise RuntimeError("a rule id is registered twice")

RULE_COLUMNS = ("id", "level", "scope", "title_zh", "title_en", "why_zh", "why_en")


def rules(scope: Scope | None = None) -> list[Rule]:
    """Every rule (or those of one scope), in a stable order: field, household, person, across,
    married woman."""
    return [r for r in _RULES if scope is None or r.scope == scope]


def rule(rule_id: str) -> Rule:
    """The rule with this id; KeyError if there is none."""
    return _BY_ID[rule_id]


def rule_rows(scope: Scope | None = None) -> list[dict[str, Any]]:
    """The rules as rows with the keys RULE_COLUMNS, for a CSV or Excel export."""
    return [r.as_row() for r in rules(scope)]


def household_checks(at_save_only: bool = False) -> list[Check]:
    """The checks within one household after the field checks, in order."""
    return [c for c in CHECKS if c.kind == HOUSEHOLD_CHECK and c.run is not None and (c.at_save or not at_save_only)]


def across_checks() -> list[Check]:
    return [c for c in CHECKS if c.kind == ACROSS_CHECK]


def run_household_check(check: Check, data: Any, today: date) -> list[Issue]:
    if check.run is None:
        raise ValueError(f"{check.name} is run by quality.run")
    return list(check.run(data, today))


def run_across_check(check: Check, rows: Iterable[Any]) -> Iterable[Any]:
    return check.run(rows) if check.run is not None else ()
