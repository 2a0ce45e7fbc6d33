"""Spot checks (抽查, issue 17): a village's sample of married women aged 15-49 drawn at the
seed's rate, the county's extra sample points of 30 households, what the checker found at the
door per main item, and the village's accuracy (主要数据项准确率) computed from that.

- A village's spot check samples its married women aged 15-49 (quality.married_women over the
  current version of each collected household: the same predicate the logic-error rate counts)
  at quality.sample_rate(population), population = the active members of those households;
  the draw is quality.spot_check_sample, so the same seed gives the same sample.
- A sample point (kind "point", the county's): 30 households of the village drawn from the
  seed (all of them when it has fewer); every main item of every member is checked.
- Each sampled woman (or household) is a SpotCheckItem holding the version it is checked
  against. The checker marks each of its main items right or wrong, with what was found when
  wrong; the checker is never one of the household's collectors (who made or saved a version
  of it, or was given it to collect). Re-entry overwrites, audited with before and after,
  until the village is accepted for the spot check's round.
- accuracy = items found right ÷ items checked, over the items entered.

Flushes, never commits; today's date and the like come in as arguments.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.domain import audit, scope, settings
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.tree import in_any_subtree, in_subtree
from app.extensions import db
from app.models import (AdminUnit, Household, HouseholdVersion, SpotCheck, SpotCheckItem, UnitLevel, User,
                        VillageAcceptance, utcnow)
from app.models.quality import AcceptanceState
from collection_forms import load_form
from collection_forms.conditions import derived, evaluate
from collection_forms.issues import member_who
from collection_forms.loader import MEMBERS, Field
from quality import married_women, sample_rate, spot_check_sample

POINT_HOUSEHOLDS = 30  # seed 篇1: a sample point is 30 households
MAX_SEED = 40          # SpotCheck.seed
MAX_ROUND = 20         # SpotCheck.round
MAX_FOUND = 100        # what the checker writes for one item
KINDS = ("village", "point")


# ------------------------------------------------------------------ what a village holds

@dataclass(frozen=True)
class Woman:
    """A married woman aged 15-49 of the village as of her household's current version."""
    household_id: uuid.UUID
    card_no: str
    member_index: int
    person_id: str | None
    version_number: int

    @property
    def key(self) -> tuple[str, str, int]:
        # Stable across versions (the person id), so a sample does not depend on read order.
        return (self.person_id or "", self.card_no, self.member_index)


@dataclass(frozen=True)
class VillageRoll:
    population: int                            # active members of its collected households
    women: list[Woman]
    households: list[tuple[str, uuid.UUID, int]]  # (card_no, household id, current version number)


def _is_active(m: Mapping[str, Any]) -> bool:
    return (m.get("status") or "active") == "active"


def village_roll(village: AdminUnit, today: dt.date) -> VillageRoll:
    """Population, married women 15-49 and households of a village, from the current versions of
    its collected households (a police pre-fill not yet seen at the door is not registered)."""
    rows = db.session.execute(
        select(Household.id, Household.card_no, HouseholdVersion.number, HouseholdVersion.data)
        .join(HouseholdVersion, HouseholdVersion.id == Household.current_version_id)
        .where(Household.village_id == village.id, Household.collected_at.is_not(None))
        .order_by(Household.card_no)).all()
    population, women, households = 0, [], []
    for hid, card_no, number, data in rows:
        members = (data or {}).get("members") or []
        population += sum(1 for m in members if isinstance(m, Mapping) and _is_active(m))
        for i, m in married_women(data or {}, today):
            pid = m.get("person_id")
            women.append(Woman(hid, card_no, i, str(pid) if pid else None, number))
        households.append((card_no, hid, number))
    return VillageRoll(population, women, households)


def default_seed(village: AdminUnit, on: dt.date) -> str:
    """The seed a draw form proposes: the date and the village code, written on the check list
    so that anyone can draw the same sample again."""
    return f"{on:%Y%m%d}-{village.code}"


def point_sample(households: list[tuple[str, uuid.UUID, int]], seed: str,
                 size: int = POINT_HOUSEHOLDS) -> list[tuple[str, uuid.UUID, int]]:
    """A sample point's households, drawn from the seed like a village's sample: in card order,
    then random.Random(seed), so the same seed gives the same households."""
    ordered = sorted(households)
    # Not for security: a seeded draw anyone can repeat is the point (S311).
    drawn = random.Random(seed).sample(range(len(ordered)), min(size, len(ordered)))  # noqa: S311
    return [ordered[i] for i in sorted(drawn)]


# ------------------------------------------------------------------ drawing

def _text_arg(value: Any, field: str, label: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(_("%(field)s is required.", field=label), field=field)
    if len(text) > limit:
        raise Invalid(_("%(field)s may have at most %(n)d characters.", field=label, n=limit), field=field)
    if any(not ch.isprintable() for ch in text):
        raise Invalid(_("%(field)s holds characters that cannot be printed.", field=label), field=field)
    return text


class AlreadyDrawn(Conflict):
    """The village sample of the round is drawn already (one a village and round: a second one,
    by a double submit or by redrawing until the sample suits, is refused); `spot_check` is it."""

    def __init__(self, check: SpotCheck):
        super().__init__(_("The village sample of %(village)s for round %(round)s was already drawn (seed %(seed)s): "
                           "a village has one sample a round.", village=check.village.name, round=check.round,
                           seed=check.seed), field="round")
        self.spot_check = check


def village_sample_of(village_id: int, round_: str) -> SpotCheck | None:
    return db.session.scalar(select(SpotCheck).where(SpotCheck.village_id == village_id, SpotCheck.round == round_,
                                                     SpotCheck.kind == "village"))


def draw_round(round_: Any) -> str:
    """The round of a draw: the acceptance round (settings.acceptance_round), the only one the
    scorecard and the acceptance read; None means that one, any other round is refused."""
    current = settings.current().acceptance_round
    if round_ is None:
        return current
    text = round_.strip() if isinstance(round_, str) else str(round_)
    if text != current:
        raise Invalid(_("%(field)s: spot checks are drawn in the acceptance round %(round)s (the scorecard and the "
                        "acceptance count no other).", field=_("Round"), round=current), field="round")
    return text


def draw(actor: User, village_id: int, *, seed: Any, round_: Any = None, today: dt.date,
         kind: str = "village") -> SpotCheck:
    """Draw a village's spot check (kind "village") or a county sample point (kind "point"),
    stored with its items, in the acceptance round. Invalid names the field; Forbidden/NotFound
    by scope; AlreadyDrawn (with the existing one) for a second village sample of the round."""
    if kind not in KINDS:
        raise Invalid(_("Unknown kind of spot check."), field="kind")
    permission = "spotcheck.point" if kind == "point" else "spotcheck.draw"
    village = scope.require_unit(actor, village_id, permission)
    if village.level != UnitLevel.village.value:
        raise Invalid(_("A spot check is drawn in a village."), field="village_id")
    seed_text = _text_arg(seed, "seed", _("Seed"), MAX_SEED)
    round_text = draw_round(round_)
    if kind == "village" and (existing := village_sample_of(village.id, round_text)) is not None:
        raise AlreadyDrawn(existing)
    roll = village_roll(village, today)
    rate = sample_rate(roll.population)
    check = SpotCheck(village_id=village.id, kind=kind, round=round_text, seed=seed_text,
                      population=roll.population, married_women=len(roll.women), rate=float(rate),
                      sample_size=0, created_by_id=actor.id, created_at=utcnow())
    if kind == "village":
        chosen = spot_check_sample(roll.women, population=roll.population, seed=seed_text, key=lambda w: w.key)
        items = [SpotCheckItem(position=n, household_id=w.household_id, member_index=w.member_index,
                               person_id=uuid.UUID(w.person_id) if w.person_id else None,
                               version_number=w.version_number)
                 for n, w in enumerate(chosen, start=1)]
    else:
        picked = point_sample(roll.households, seed_text)
        items = [SpotCheckItem(position=n, household_id=hid, version_number=number)
                 for n, (_card, hid, number) in enumerate(picked, start=1)]
    if not items:
        raise Invalid(_("%(village)s has nothing to sample: no married women aged 15-49 in its collected "
                        "households.", village=village.name) if kind == "village"
                      else _("%(village)s has no collected households.", village=village.name), field="village_id")
    check.sample_size = len(items)
    check.items = items
    try:
        with db.session.begin_nested():
            db.session.add(check)
            db.session.flush()  # uq_spot_check_village_round refuses a second sample raced in
    except IntegrityError:
        existing = village_sample_of(village.id, round_text)
        if existing is None:
            raise
        raise AlreadyDrawn(existing) from None
    audit.record("spotcheck.draw", actor=actor, object_type="spot_check", object_id=check.id,
                 details={"village_id": village.id, "kind": kind, "round": round_text, "seed": seed_text,
                          "population": roll.population, "married_women": len(roll.women),
                          "rate": str(rate), "sample_size": len(items)})
    return check


# ------------------------------------------------------------------ reading

def get_spot_check(actor: User, spot_check_id: int) -> SpotCheck:
    check = db.session.get(SpotCheck, spot_check_id)
    if check is None or not scope.can(actor, "spotcheck.view", check.village):
        raise NotFound(_("No such spot check."))
    return check


def get_item(actor: User, spot_check_id: int, position: int) -> SpotCheckItem:
    check = get_spot_check(actor, spot_check_id)
    item = db.session.scalar(select(SpotCheckItem).where(SpotCheckItem.spot_check_id == check.id,
                                                         SpotCheckItem.position == position))
    if item is None:
        raise NotFound(_("No such spot check."))
    return item


def spot_checks_of(actor: User, unit: AdminUnit) -> list[SpotCheck]:
    """The spot checks of the villages under `unit` the actor may see, newest first."""
    return list(db.session.scalars(
        select(SpotCheck).join(AdminUnit, AdminUnit.id == SpotCheck.village_id)
        .where(in_subtree(AdminUnit.path, unit.path),
               scope.scope_filter(actor, AdminUnit.path, "spotcheck.view"))
        .order_by(SpotCheck.created_at.desc(), SpotCheck.id.desc())))


def villages_to_draw(actor: User) -> list[AdminUnit]:
    """Villages where the actor may draw a spot check (or a sample point), in tree order."""
    paths = scope.scope_paths(actor, "spotcheck.draw") + scope.scope_paths(actor, "spotcheck.point")
    if not paths:
        return []
    return list(db.session.scalars(select(AdminUnit).where(
        AdminUnit.level == UnitLevel.village.value, in_any_subtree(AdminUnit.path, paths)).order_by(AdminUnit.path)))


# ------------------------------------------------------------------ what is checked

@dataclass(frozen=True)
class CheckedItem:
    path: str          # "members[3].id_number": the key of results
    member_index: int
    who: dict[str, str]  # member_who: 第4位成员（李秀英）
    field: Field
    recorded: Any      # the value as recorded in the version checked against


def _applies(f: Field, values: Mapping[str, Any], today: dt.date) -> bool:
    # As quality.completeness counts a main item: only where its condition holds for the person.
    if f.relevant is None:
        return True
    predicates = derived(values, today)
    return evaluate(f.relevant, values, lambda name: bool(predicates[name]))


def version_data(item: SpotCheckItem) -> dict[str, Any]:
    version = db.session.scalar(select(HouseholdVersion).where(
        HouseholdVersion.household_id == item.household_id, HouseholdVersion.number == item.version_number))
    return (version.data if version is not None else None) or {}


def items_to_check(item: SpotCheckItem, today: dt.date, data: Mapping[str, Any] | None = None) -> list[CheckedItem]:
    """The main items of the sampled woman (or, for a sample point, of every active member of the
    household) as recorded in the version the item is checked against."""
    data = version_data(item) if data is None else data
    members = [m if isinstance(m, Mapping) else {} for m in (data.get("members") or [])]
    if item.member_index is not None:
        indexes = [item.member_index] if item.member_index < len(members) else []
    else:
        indexes = [i for i, m in enumerate(members) if _is_active(m)]
    main = [f for key, f in load_form().main_items() if key == MEMBERS]
    out = []
    for i in indexes:
        m = members[i]
        who = member_who(i, m)
        out += [CheckedItem(f"{MEMBERS}[{i}].{f.name}", i, who, f, m.get(f.name))
                for f in main if _applies(f, m, today)]
    return out


# ------------------------------------------------------------------ entering what was found

def collectors_of(household: Household) -> set[int]:
    """Who collected the household: who made it, who saved any version of it, who was given it."""
    ids = {household.created_by_id}
    ids |= set(db.session.scalars(select(HouseholdVersion.created_by_id)
                                  .where(HouseholdVersion.household_id == household.id)))
    if household.assigned_to_id is not None:
        ids.add(household.assigned_to_id)
    return ids


def may_check(actor: User, item: SpotCheckItem) -> str | None:
    """None if the actor may enter what was found for this item, else why not (for the page)."""
    household = db.session.get(Household, item.household_id)
    if household is None or not scope.can_at(actor, "spotcheck.check", household.unit_path):
        return _("You may not enter spot check results here.")
    if actor.id in collectors_of(household):
        return _("You collected household %(card_no)s yourself: a spot check is entered by someone who did not "
                 "collect the household.", card_no=household.card_no)
    if is_accepted(item.spot_check):
        return _("The village was accepted for round %(round)s: its spot check results can no longer be changed.",
                 round=item.spot_check.round)
    return None


def is_accepted(check: SpotCheck) -> bool:
    return db.session.scalar(select(func.count()).select_from(VillageAcceptance).where(
        VillageAcceptance.village_id == check.village_id, VillageAcceptance.round == check.round,
        VillageAcceptance.state == AcceptanceState.accepted.value)) > 0


def enter(actor: User, spot_check_id: int, position: int, answers: Mapping[str, Any], *,
          today: dt.date, lang: str = "zh") -> SpotCheckItem:
    """Record what the checker found for one sampled item. `answers`: {path: {"ok": "1"/"0",
    "found": text}} for every main item of the item. Everything is checked before anything
    changes; Invalid names the first field at fault. A new entry replaces the last one."""
    item = get_item(actor, spot_check_id, position)
    refusal = may_check(actor, item)
    if refusal:
        raise Forbidden(refusal)
    results: dict[str, dict[str, Any]] = {}
    for c in items_to_check(item, today):
        label = f"{c.who[lang]}{'的' if lang == 'zh' else ': '}{c.field.label.get(lang, c.field.name)}"
        answer = answers.get(c.path) or {}
        ok = answer.get("ok")
        if ok not in ("1", "0", True, False):
            raise Invalid(_("%(item)s: mark it right or wrong.", item=label), field=c.path)
        ok = ok in ("1", True)
        found = answer.get("found")
        found = found.strip() if isinstance(found, str) else ""
        if ok:
            results[c.path] = {"ok": True}
            continue
        if not found:
            raise Invalid(_("%(item)s is marked wrong: write what was found.", item=label), field=c.path)
        if len(found) > MAX_FOUND or any(not ch.isprintable() for ch in found):
            raise Invalid(_("%(item)s: what was found may have at most %(n)d printable characters.",
                            item=label, n=MAX_FOUND), field=c.path)
        results[c.path] = {"ok": False, "found": found}
    before = _entry(item)
    item.results = results
    item.items_checked = len(results)
    item.items_wrong = sum(1 for r in results.values() if not r["ok"])
    item.checker_id = actor.id
    item.checked_at = utcnow()
    db.session.flush()
    audit.record("spotcheck.enter", actor=actor, object_type="spot_check_item", object_id=item.id,
                 details={"spot_check_id": item.spot_check_id, "position": item.position,
                          "household_id": str(item.household_id), "before": before, "after": _entry(item)})
    return item


def _entry(item: SpotCheckItem) -> dict[str, Any] | None:
    if item.checked_at is None:
        return None
    return {"checker_id": item.checker_id, "items_checked": item.items_checked, "items_wrong": item.items_wrong,
            "results": item.results}


# ------------------------------------------------------------------ accuracy

@dataclass(frozen=True)
class Accuracy:
    items_checked: int
    items_right: int

    @property
    def rate(self) -> float | None:
        return self.items_right / self.items_checked if self.items_checked else None


def accuracy_by_village(village_ids: Iterable[int], round_: str) -> dict[int, tuple[int, int]]:
    """{village_id: (items_checked, items_right)} over the entered items of the villages' spot
    checks of the round (the village sample and the county's sample points); a village with
    nothing entered is (0, 0). The one computation of 主要数据项准确率: the scorecard, the
    acceptance and the spot-check pages read it."""
    ids = list(dict.fromkeys(village_ids))
    out = {v: (0, 0) for v in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(SpotCheck.village_id, func.sum(SpotCheckItem.items_checked),
               func.sum(SpotCheckItem.items_checked - SpotCheckItem.items_wrong))
        .join(SpotCheckItem, SpotCheckItem.spot_check_id == SpotCheck.id)
        .where(SpotCheck.village_id.in_(ids), SpotCheck.round == round_, SpotCheckItem.checked_at.is_not(None))
        .group_by(SpotCheck.village_id)).all()
    for village_id, checked, right in rows:
        out[village_id] = (int(checked or 0), int(right or 0))
    return out


def sample_progress(village_ids: Iterable[int], round_: str) -> dict[int, tuple[int, int]]:
    """{village_id: (items entered, items sampled)} of the villages' village samples of the round
    (the acceptance waits until every sampled woman is entered); villages without one are left out."""
    ids = list(dict.fromkeys(village_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(SpotCheck.village_id, func.count(SpotCheckItem.checked_at), func.count(SpotCheckItem.id))
        .join(SpotCheckItem, SpotCheckItem.spot_check_id == SpotCheck.id)
        .where(SpotCheck.village_id.in_(ids), SpotCheck.round == round_, SpotCheck.kind == "village")
        .group_by(SpotCheck.village_id)).all()
    return {vid: (int(entered), int(sampled)) for vid, entered, sampled in rows}


def progress(check: SpotCheck) -> tuple[int, int]:
    """(items entered, items sampled) of one spot check."""
    entered = sum(1 for i in check.items if i.checked_at is not None)
    return entered, len(check.items)


# ------------------------------------------------------------------ the check list

@dataclass(frozen=True)
class ListedItem:
    checked: CheckedItem
    label: str      # who + field label in one language
    recorded: str   # the recorded value as a person reads it (a code's label, a member's name)


@dataclass(frozen=True)
class ListedPerson:
    item: SpotCheckItem
    household: Household
    address: str
    who: str
    items: list[ListedItem]


def household_address(h: Household) -> str:
    parts = [h.group.name if h.group else None, h.building, h.unit_no, h.room, h.door_no]
    return " ".join(p for p in parts if p)


def shown_value(f: Field, value: Any, members: list[Mapping[str, Any]], lang: str) -> str:
    """A recorded value as the checker reads it at the door."""
    if value is None or value == "":
        return ""
    if f.code_list is not None:
        return f"{f.code_list.label(str(value), lang)}（{value}）" if lang == "zh" \
            else f"{f.code_list.label(str(value), lang)} ({value})"
    if f.type == "member_ref":
        for i, m in enumerate(members):
            if str(m.get("person_id")) == str(value):
                return member_who(i, m)[lang]
    return str(value)


def listed(check: SpotCheck, today: dt.date, lang: str = "zh") -> list[ListedPerson]:
    """Per sampled item: the household, its address, whom it is about, and each main item as
    recorded in the version checked against (what the check list prints and the pages show)."""
    out = []
    for item in check.items:
        household = db.session.get(Household, item.household_id)
        data = version_data(item)
        members = [m if isinstance(m, Mapping) else {} for m in (data.get("members") or [])]
        entries = []
        for c in items_to_check(item, today, data):
            label = c.field.label.get(lang, c.field.name)
            if item.member_index is None:  # a sample point: every member's items, so say whose
                label = f"{c.who[lang]} {label}"
            entries.append(ListedItem(c, label, shown_value(c.field, c.recorded, members, lang)))
        if item.member_index is not None and item.member_index < len(members):
            who = member_who(item.member_index, members[item.member_index])[lang]
        else:
            who = _("The whole household")
        out.append(ListedPerson(item, household, household_address(household), who, entries))
    return out


def facts(check: SpotCheck, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The draw's figures, as printed and shown: enough to draw the same sample again. `zone`:
    where the village is (the day it was drawn, there)."""
    kind = _("Village sample (married women aged 15-49)") if check.kind == "village" \
        else _("County sample point (%(n)d households)", n=POINT_HOUSEHOLDS)
    return [(_("Kind"), kind), (_("Round"), check.round), (_("Seed"), check.seed),
            (_("Population"), str(check.population)), (_("Married women aged 15-49"), str(check.married_women)),
            (_("Sampling rate"), f"{check.rate * 100:g} %"), (_("Sample size"), str(check.sample_size)),
            (_("Drawn"), f"{check.created_at.astimezone(zone):%Y-%m-%d}")]


def check_list_document(check: SpotCheck, today: dt.date, zone: ZoneInfo):
    """The printable check list (printing.check_list.CheckList), in Chinese: paper goes to the door."""
    from printing.check_list import CheckItem, CheckList, CheckPerson

    persons = tuple(CheckPerson(p.item.position, p.household.card_no, p.address, p.who,
                                tuple(CheckItem(e.label, e.recorded) for e in p.items))
                    for p in listed(check, today, "zh"))
    village = check.village
    return CheckList(title="抽查核对表", village_name=village.name, village_code=village.code,
                     township_name=village.parent.name if village.parent else "",
                     facts=tuple(facts(check, zone)), persons=persons)
