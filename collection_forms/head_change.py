"""When the head of a household changes (the head died or moved away), every member's
relationship (GB/T 4761 家庭关系) must be restated relative to the new head.

`propose(members, new_head)` works that out for the common family shapes and says, member
by member, whether the proposal is certain or needs the collector's eye: the household form
does not record every parent link, so "the old head's grandson" may be the new head's son or
nephew. Nothing here changes data: the form shows the proposals for confirmation.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collection_forms.conditions import as_date

HEAD = "02"
MALE, FEMALE = "1", "2"

# What a member is to the (old) head, by GB/T 4761 code.
SPOUSE = {"10", "11", "12"}
SON = {"20", "21", "22", "23", "24", "25", "26", "27", "29"}
DAUGHTER = {"30", "31", "32", "33", "34", "35", "36", "37", "39"}
CHILD_IN_LAW = {"28", "38"}
SONS_CHILD = {"41", "42"}          # 孙子, 孙女
DAUGHTERS_CHILD = {"43", "44"}     # 外孙子, 外孙女
OTHER_GRANDCHILD = {"40", "49"}
GRANDCHILD_IN_LAW = {"45", "46"}
GREAT_GRANDCHILD = {"47", "48"}
PARENT = {"50", "51", "52", "57", "58", "59"}
PARENT_IN_LAW = {"53", "54", "55", "56"}
GRANDPARENT = {"60", "61", "62", "63", "64", "66", "67", "69"}
SPOUSE_GRANDPARENT = {"65", "68"}
SIBLING = {"70", "71", "73", "75", "77", "79"}
SIBLING_IN_LAW = {"72", "74", "76", "78"}
NON_RELATIVE = "99"
OTHER_RELATIVE = "97"


@dataclass(frozen=True)
class Proposal:
    index: int             # the member's place in the roster
    old: str               # relationship to the old head
    new: str               # proposed relationship to the new head
    certain: bool          # False: the collector must check it (the reason says why)
    reason: str = ""       # English; the form shows a translated text per reason key


def propose(members: Sequence[Mapping[str, Any]], new_head: int) -> list[Proposal]:
    """Proposals for every active member, the new head included (→ 02). Cancelled members
    (deceased, moved out...) keep what they were: their history is not rewritten."""
    head = members[new_head]
    kind = head.get("relationship")
    old_head = next((m for m in members if m.get("relationship") == HEAD), None)
    out = []
    for index, member in enumerate(members):
        if (member.get("status") or "active") != "active":
            continue
        old = member.get("relationship") or ""
        if index == new_head:
            out.append(Proposal(index, old, HEAD, True))
        elif old == NON_RELATIVE:
            out.append(Proposal(index, old, NON_RELATIVE, True))
        elif kind in SPOUSE:
            out.append(_from_spouse(index, member, head))
        elif kind in SON | DAUGHTER:
            out.append(_from_child(index, member, head, members, old_head))
        else:
            out.append(Proposal(index, old, OTHER_RELATIVE, False, "new_head_not_spouse_or_child"))
    return out


def _by_sex(member: Mapping[str, Any], male: str, female: str) -> str | None:
    return {MALE: male, FEMALE: female}.get(member.get("sex"))


def _from_spouse(index: int, m: Mapping[str, Any], head: Mapping[str, Any]) -> Proposal:
    """The old head's husband or wife becomes the head: the old head's family is theirs."""
    old = m.get("relationship") or ""
    if old == HEAD:  # the old head stays in the household (handed over)
        new = _by_sex(m, "11", "12")
        return Proposal(index, old, new, True) if new else Proposal(index, old, "10", False, "sex_unknown")
    if old in SON | DAUGHTER | CHILD_IN_LAW | SONS_CHILD | DAUGHTERS_CHILD | OTHER_GRANDCHILD \
            | GRANDCHILD_IN_LAW | GREAT_GRANDCHILD:
        # The same for the spouse, unless a child is the old head's alone (a stepchild).
        return Proposal(index, old, old, True)
    if old in PARENT:
        # The old head's parents are the new head's parents-in-law: 公公/婆婆 for a wife,
        # 岳父/岳母 for a husband.
        pair = ("53", "54") if head.get("sex") == FEMALE else ("55", "56")
        new = _by_sex(m, *pair)
        return Proposal(index, old, new, True) if new else Proposal(index, old, "59", False, "sex_unknown")
    if old in GRANDPARENT:
        return Proposal(index, old, "65", True)
    if old in SIBLING | SIBLING_IN_LAW:
        return Proposal(index, old, OTHER_RELATIVE, True)  # GB/T 4761 has no code for a spouse's siblings
    return Proposal(index, old, OTHER_RELATIVE, False, "relation_unknown")


def _from_child(index: int, m: Mapping[str, Any], head: Mapping[str, Any],
                members: Sequence[Mapping[str, Any]], old_head: Mapping[str, Any] | None) -> Proposal:
    """A son or daughter of the old head becomes the head: one generation down."""
    old = m.get("relationship") or ""
    head_is_son = head.get("relationship") in SON
    if old == HEAD or old in SPOUSE:  # the old head, or the old head's spouse: a parent
        new = _by_sex(m, "51", "52")
        return Proposal(index, old, new, True) if new else Proposal(index, old, "50", False, "sex_unknown")
    if old in SON | DAUGHTER:
        return _sibling(index, m, head)
    if old in CHILD_IN_LAW:
        if _married(m, head):
            new = _by_sex(m, "11", "12")
            return Proposal(index, old, new, True) if new else Proposal(index, old, "10", False, "sex_unknown")
        spouse = next((x for x in members if x is not m and _married(m, x)), None)
        if spouse is None:
            # The form links only a married woman aged 15-49 to her husband: an older 儿媳, or
            # any 女婿, has no link. A 儿媳 is a son's wife, a 女婿 a daughter's husband; if the
            # new head is the one son (daughter) who may be the spouse, they are 妻 (夫).
            spouse, alone = _unlinked_spouse(m, head, members)
            if spouse is head:
                new = _by_sex(m, "11", "12")
                if new:
                    return Proposal(index, old, new, alone, "" if alone else "whose_spouse")
        if spouse is not None and spouse.get("relationship") in SON | DAUGHTER:
            # A brother's wife or a sister's husband: 嫂/弟媳, 姐夫/妹夫 by the sibling's place.
            sibling = _sibling(index, spouse, head)
            in_law = {"71": "72", "73": "74", "75": "76", "77": "78"}.get(sibling.new)
            if in_law:
                return Proposal(index, old, in_law, True)
        return Proposal(index, old, OTHER_RELATIVE, False, "whose_spouse")
    active = [x for x in members if (x.get("status") or "active") == "active"]
    sons = [x for x in active if x.get("relationship") in SON or x is head and head_is_son]
    daughters = [x for x in active if x.get("relationship") in DAUGHTER or x is head and not head_is_son]
    if old in SONS_CHILD | DAUGHTERS_CHILD:
        via_son = old in SONS_CHILD
        if via_son == head_is_son:  # the child of a son, and the new head is a son (or daughter/daughter)
            siblings_of_same_sex = sons if head_is_son else daughters
            new = _by_sex(m, "20", "30")
            if len(siblings_of_same_sex) == 1 and new:
                return Proposal(index, old, new, True)
            # Several sons: the grandchild is the new head's child or a brother's (侄子/侄女).
            return Proposal(index, old, new or "20", False, "child_or_nephew")
        # A son's child for a new head who is a daughter: her brother's child (侄子/侄女);
        # a daughter's child for a new head who is a son: his sister's child (外甥/外甥女).
        new = _by_sex(m, "93", "94") if via_son else _by_sex(m, "95", "96")
        return Proposal(index, old, new, True) if new else Proposal(index, old, OTHER_RELATIVE, False, "sex_unknown")
    if old in OTHER_GRANDCHILD:
        return Proposal(index, old, _by_sex(m, "20", "30") or "20", False, "child_or_nephew")
    if old in GRANDCHILD_IN_LAW:
        return Proposal(index, old, _by_sex(m, "28", "38") or "28", False, "child_or_nephew")
    if old in GREAT_GRANDCHILD:
        return Proposal(index, old, "40", False, "child_or_nephew")
    if old in PARENT:
        # The old head's parents are grandparents: paternal (祖父/祖母) through a father,
        # maternal (外祖父/外祖母) through a mother.
        through_father = old_head is None or old_head.get("sex") != FEMALE
        new = _by_sex(m, "61", "62") if through_father else _by_sex(m, "63", "64")
        certain = old_head is not None and new is not None
        return Proposal(index, old, new or "60", certain, "" if certain else "sex_unknown")
    if old in PARENT_IN_LAW:
        # The old head's spouse's parents: the other side of the family.
        through_father = old_head is not None and old_head.get("sex") == FEMALE
        new = _by_sex(m, "61", "62") if through_father else _by_sex(m, "63", "64")
        certain = old_head is not None and new is not None
        return Proposal(index, old, new or "60", certain, "" if certain else "sex_unknown")
    if old in SIBLING:
        return _uncle_or_aunt(index, m, old_head)
    return Proposal(index, old, OTHER_RELATIVE, False, "relation_unknown")


def _sibling(index: int, m: Mapping[str, Any], head: Mapping[str, Any]) -> Proposal:
    old = m.get("relationship") or ""
    mine, theirs = as_date(m.get("birth_date")), as_date(head.get("birth_date"))
    if m.get("sex") not in (MALE, FEMALE) or mine is None or theirs is None or mine == theirs:
        return Proposal(index, old, "70", False, "birth_order_unknown")
    elder = mine < theirs
    new = {(MALE, True): "71", (MALE, False): "73", (FEMALE, True): "75", (FEMALE, False): "77"}[(m["sex"], elder)]
    return Proposal(index, old, new, True)


def _uncle_or_aunt(index: int, m: Mapping[str, Any], old_head: Mapping[str, Any] | None) -> Proposal:
    """The old head's brother or sister. Through a father: 伯父 (elder brother), 叔父
    (younger brother), 姑母 (sister); through a mother: 舅父, 姨母."""
    old = m.get("relationship") or ""
    if old_head is None or m.get("sex") not in (MALE, FEMALE) or old_head.get("sex") not in (MALE, FEMALE):
        return Proposal(index, old, OTHER_RELATIVE, False, "sex_unknown")
    if old_head["sex"] == FEMALE:
        return Proposal(index, old, "85" if m["sex"] == MALE else "88", True)
    if m["sex"] == FEMALE:
        return Proposal(index, old, "90", True)
    mine, theirs = as_date(m.get("birth_date")), as_date(old_head.get("birth_date"))
    if mine is None or theirs is None or mine == theirs:
        return Proposal(index, old, "81", False, "birth_order_unknown")
    return Proposal(index, old, "81" if mine < theirs else "83", True)


def _married(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The form links a married woman to her husband in the household (spouse_member)."""
    pa, pb = a.get("person_id"), b.get("person_id")
    return bool(pa and pb and (a.get("spouse_member") == pb or b.get("spouse_member") == pa))


# Sons and daughters by order of birth (GB/T 4761): 长子 次子 三子 四子 五子, 长女 … 五女; a sixth
# and later child has no ordinal code and is 其他儿子 / 其他女儿.
SON_ORDER = ("22", "23", "24", "25", "26")
DAUGHTER_ORDER = ("32", "33", "34", "35", "36")
ONLY_CHILD = {"21", "31"}
# The head's children by birth (adopted and stepchildren, 27 and 37, are not counted in the order).
BORN_SON = SON - {"27"}
BORN_DAUGHTER = DAUGHTER - {"37"}


def next_child_code(sex: str, members: Sequence[Mapping[str, Any]], born: Any = None) -> str:
    """The relationship to the head of a child just born to the head (or the head's spouse).
    When the household names the head's children by order (长子, 次女, or 独生子/独生女 for an
    only child), the newborn takes the next order of its sex: after 长子, 次子 and 三子 a son is
    四子, and a daughter with no sister yet is 长女. Otherwise plain 子 / 女, as the siblings
    are. Siblings of every status count (a son who died or moved out keeps his place), those
    born after `born` (recorded late) do not."""
    plain, order, own = ("20", SON_ORDER, BORN_SON) if sex == MALE else ("30", DAUGHTER_ORDER, BORN_DAUGHTER)
    children = [m for m in members if m.get("relationship") in BORN_SON | BORN_DAUGHTER]
    ordered_codes = set(SON_ORDER) | set(DAUGHTER_ORDER) | ONLY_CHILD
    ordered = any(m.get("relationship") in ordered_codes for m in children)
    if not ordered:
        return plain
    day = as_date(born)
    before = [m for m in children if m.get("relationship") in own
              and (day is None or (as_date(m.get("birth_date")) or day) <= day)]
    place = len(before)
    if place < len(order):
        return order[place]
    return "29" if sex == MALE else "39"


def _unlinked_spouse(m: Mapping[str, Any], head: Mapping[str, Any], members: Sequence[Mapping[str, Any]]
                     ) -> tuple[Mapping[str, Any] | None, bool]:
    """Whose spouse a child-in-law of the old head (28 女婿, 38 儿媳) with no spouse link may
    be: the old head's active sons (for a 儿媳) or daughters (for a 女婿) who are not linked
    to someone else and are not known to be unmarried. Returns the likeliest (the new head
    if they are one of them, else the only one) and whether it is the only one."""
    partners = SON if m.get("relationship") == "38" else DAUGHTER
    candidates = [x for x in members if x is not m and (x.get("status") or "active") == "active"
                  and x.get("relationship") in partners
                  and not any(_married(x, y) for y in members if y is not x and y is not m)
                  and (x.get("marital_status") or "20")[:1] not in ("1", "3", "4")]
    if not candidates:
        return None, False
    alone = len(candidates) == 1
    if any(x is head for x in candidates):
        return head, alone
    return (candidates[0], True) if alone else (None, False)
