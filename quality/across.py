"""Rules across households: pure functions over person rows, each linear in the number of rows
(one pass to group by a key, one over the groups), for a run over a county's 400k persons.

A person row is a mapping with the keys of the person register (app.models.Person), so that
the database side can feed its rows as they are; `person_rows(household, data)` makes them
from a household's form data:

    household_id      the household's id or key (anything hashable, compared with ==)
    position          the member's index in the household's members list
    person_id         the member's person_id
    name, sex, id_number, marital_status, status, cancelled_on
    spouse_person_id  the form's spouse_member (a member of the same household)
    spouse_id_number  the form's spouse_id_number (a spouse known by number)

Missing keys read as empty. Each function yields Findings, one per row concerned, so that
each household's work list shows its own side.

Rules:
- across.id_in_two_households (error): one ID number active in two or more households.
- across.dead_active_elsewhere (error): a person cancelled as dead (status deceased) in one
  household and active in another (same ID number). Only death: a person moved out of one
  household of the registry and active in another is what a recorded move leaves behind
  (app.domain.events: moved_out here, a new member there), and a record cancelled as a
  duplicate is the outcome of a duplicate resolved; neither is a finding.
- across.spouse_not_mutual (error): a spouse named by ID number (spouse_id_number) whose own
  active row says otherwise: the same sex, not married (marital status filled and not 20-23),
  or linked to a third person; or one person named as the spouse of two. A number that is
  not in the registry is no finding (the spouse may live elsewhere). Links within a household
  (spouse_member) are relation 10 of a married woman (quality.married_women).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any

from collection_forms.conditions import MARRIED
from collection_forms.issues import member_who
from quality.findings import Finding

Row = Mapping[str, Any]
ROW_KEYS = ("household_id", "position", "person_id", "name", "sex", "id_number", "marital_status", "status",
            "cancelled_on", "spouse_person_id", "spouse_id_number")


def person_rows(household_id: Hashable, household_data: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The person rows of one household's form data (keys as in ROW_KEYS)."""
    for i, m in enumerate(household_data.get("members") or []):
        if not isinstance(m, Mapping):
            continue
        yield {"household_id": household_id, "position": i, "person_id": m.get("person_id"),
               "name": m.get("name"), "sex": m.get("sex"), "id_number": m.get("id_number"),
               "marital_status": m.get("marital_status"), "status": m.get("status", "active"),
               "cancelled_on": m.get("cancelled_on"), "spouse_person_id": m.get("spouse_member"),
               "spouse_id_number": m.get("spouse_id_number")}


def _active(row: Row) -> bool:
    return (row.get("status") or "active") == "active"


def _number(row: Row, key: str = "id_number") -> str | None:
    n = row.get(key)
    return n if isinstance(n, str) and n else None


def _finding(rule: str, row: Row, field: str, zh: str, en: str) -> Finding:
    who = member_who(int(row.get("position") or 0), row)
    household = row.get("household_id")
    pid = row.get("person_id")
    return Finding(rule, "error", str(household) if household is not None else None, row.get("position"), field,
                   {"zh": who["zh"] + zh, "en": f"{who['en']}: {en}"}, str(pid) if pid is not None else None)


def _households(rows: Iterable[Row]) -> str:
    return "、".join(sorted({str(r.get("household_id")) for r in rows}))


def id_in_two_households(rows: Iterable[Row]) -> Iterator[Finding]:
    """Every active row whose ID number is active in another household too."""
    by_number: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if _active(row) and (n := _number(row)):
            by_number[n].append(row)
    for group in by_number.values():
        if len({r.get("household_id") for r in group}) < 2:
            continue  # one household: household.duplicate_id says it at save
        for row in group:
            others = [r for r in group if r.get("household_id") != row.get("household_id")]
            yield _finding("across.id_in_two_households", row, "id_number",
                           f"的身份证号码也登记在另一户（{_households(others)}），同一人只能在一户中登记",
                           f"the ID number is also registered in another household ({_households(others)}); "
                           "a person is registered in one household only")


def dead_active_elsewhere(rows: Iterable[Row]) -> Iterator[Finding]:
    """Rows of a person cancelled as dead in one household and active in another: both sides."""
    by_number: dict[str, tuple[list[Row], list[Row]]] = defaultdict(lambda: ([], []))
    for row in rows:
        n = _number(row)
        if n is None:
            continue
        if _active(row):
            by_number[n][0].append(row)
        elif row.get("status") == "deceased":
            by_number[n][1].append(row)
    for active, dead in by_number.values():
        if not active or not dead:
            continue
        for row in dead:
            live = [r for r in active if r.get("household_id") != row.get("household_id")]
            if live:
                yield _finding("across.dead_active_elsewhere", row, "status",
                               f"已注销为死亡，但同一身份证号码在另一户（{_households(live)}）仍为正常人员",
                               f"is cancelled as dead, but the same ID number is active in another household "
                               f"({_households(live)})")
        dead_households = {r.get("household_id") for r in dead}
        for row in active:
            if dead_households - {row.get("household_id")}:
                died = [r for r in dead if r.get("household_id") != row.get("household_id")]
                yield _finding("across.dead_active_elsewhere", row, "status",
                               f"为正常人员，但同一身份证号码在另一户（{_households(died)}）已注销为死亡",
                               f"is active, but the same ID number is cancelled as dead in another household "
                               f"({_households(died)})")


def spouse_not_mutual(rows: Iterable[Row]) -> Iterator[Finding]:
    """Spouse links by ID number that the spouse's own row contradicts (see the docstring)."""
    by_number: dict[str, Row] = {}
    linking: list[Row] = []
    claimed: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if not _active(row):
            continue
        if n := _number(row):
            by_number.setdefault(n, row)
        if (s := _number(row, "spouse_id_number")) and s != _number(row):
            linking.append(row)
            claimed[s].append(row)
    for row in linking:
        spouse_number = row["spouse_id_number"]
        spouse = by_number.get(spouse_number)
        if spouse is None:
            continue
        name = str(spouse.get("name") or "").strip()
        problems: list[tuple[str, str]] = []
        if row.get("sex") is not None and spouse.get("sex") == row.get("sex"):
            problems.append(("性别相同", "is of the same sex"))
        status = spouse.get("marital_status")
        if status is not None and status not in MARRIED:
            problems.append(("的婚姻状况不是已婚", "is not married by the marital status"))
        back = _number(spouse, "spouse_id_number")
        if back is not None and back != _number(row):
            problems.append(("登记的配偶是另一人", "has another person as spouse"))
        if len(claimed[spouse_number]) > 1:
            problems.append(("同时被另一人登记为配偶", "is also named as spouse by someone else"))
        if problems:
            yield _finding("across.spouse_not_mutual", row, "spouse_id_number",
                           f"的配偶（{name}，{spouse.get('household_id')}户）" + "、".join(z for z, _ in problems)
                           + "，请核对",
                           f"the spouse ({name}, household {spouse.get('household_id')}) "
                           + "; ".join(e for _, e in problems) + "; check the spouse")


ACROSS_CHECKS = (id_in_two_households, dead_active_elsewhere, spouse_not_mutual)


def check_across(rows: Iterable[Row]) -> Iterator[Finding]:
    """All rules across households over one pass of rows (materialised once: each rule groups
    by its own key). For a very large registry, feed each rule its own stream instead."""
    rows = rows if isinstance(rows, list) else list(rows)
    for check in ACROSS_CHECKS:
        yield from check(rows)
