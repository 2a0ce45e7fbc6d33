"""A year of life events for the demo households (issue 7), recorded through app.domain.events
as the collectors' screens record them.

Over the year before `today`, in date order: births to married women of the household
with their husband there, deaths of the old (a head's death names the spouse or the eldest
son as the new head), young people leaving for work (out-migrants), marriages to a spouse
from elsewhere, a few divorces, people moving between households of a village, and a few
splits of households with a married son. About one event for every six households: a few
hundred for the 2,000 demo households, so `flask demo` stays quick.

Each event has a submission id derived from the seed, so a second run replays instead of
recording twice; and the step runs only while the township has no event yet. An event the
rules refuse (a household changed meanwhile, a date before a birth) is counted and skipped.
"""
from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.domain import events, registration
from app.demo.progress import Progress, no_progress
from app.domain.errors import DomainError
from app.domain.tree import in_subtree
from app.extensions import db
from app.models import EVENT_KINDS, AdminUnit, Household, HouseholdVersion, User

EVENTS_PER_HOUSEHOLD = 1 / 6
NAMESPACE = uuid.UUID("6f1d2c1e-7a55-4d0b-9f3e-2b8c0e5a7d01")
OUTSIDE_PLACES = ("广东省深圳市", "浙江省杭州市", "江苏省苏州市", "上海市", "北京市")
GIVEN = ("子涵", "梓萱", "浩宇", "欣怡", "宇轩", "一诺", "俊杰", "雨桐")
SPOUSE_NAMES = ("王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄涛", "周婷")


@dataclass
class EventsReport:
    existing: int = 0  # events the township had already: then none are made
    recorded: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    refused: int = 0
    seconds: float = 0.0


def add_events(township: AdminUnit, collectors: dict[str, User], *, seed: int,
               today: dt.date | None = None, progress: Progress = no_progress) -> EventsReport:
    """Record the demo year's events; `collectors`: the collector of each village by its code."""
    report = EventsReport()
    in_township = in_subtree(Household.unit_path, township.path)
    report.existing = db.session.scalar(
        select(HouseholdVersion.id).join(Household, HouseholdVersion.household_id == Household.id)
        .where(in_township, HouseholdVersion.kind.in_([k.value for k in EVENT_KINDS])).limit(1)) or 0
    if report.existing:
        return report
    started = time.perf_counter()
    today = today or registration.today()
    rng = random.Random(seed)
    households = list(db.session.scalars(select(Household).where(in_township).order_by(Household.unit_path,
                                                                                      Household.card_no)))
    chosen = rng.sample(households, k=min(len(households), round(len(households) * EVENTS_PER_HOUSEHOLD)))
    # One day of the past year for each, in date order (the later events see the earlier ones).
    plans = sorted(((today - dt.timedelta(days=rng.randrange(1, 365)), h) for h in chosen),
                   key=lambda p: (p[0], p[1].unit_path, p[1].card_no))
    for n, (day, household) in enumerate(plans):
        progress("events", n, len(plans))
        actor = collectors.get(household.village.code)
        if actor is None:
            continue
        sub = uuid.uuid5(NAMESPACE, f"{seed}-{n}")
        try:
            kind, result = _one(actor, household, day, rng, sub, today, households)
        except DomainError:  # refused: its savepoint was rolled back, nothing changed
            report.refused += 1
            continue
        if result is None:
            continue
        if result.created:
            report.recorded[kind] += 1
        else:
            report.replayed += 1
    progress("events", len(plans), len(plans))
    report.seconds = time.perf_counter() - started
    return report


def _one(actor: User, h: Household, day: dt.date, rng: random.Random, sub: uuid.UUID, today: dt.date,
         households: list[Household]) -> tuple[str, events.EventResult | None]:
    """One event that fits the household: the first of a shuffled list of kinds that applies."""
    members = h.current_version.data.get("members", []) if h.current_version else []
    active = [m for m in members if (m.get("status") or "active") == "active"]
    base = h.current_number
    kinds = ["birth", "birth", "death", "move_out", "move_out", "marriage", "move_in", "split", "divorce"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "birth":
            mother = next((m for m in active if m.get("sex") == "2" and m.get("spouse_member")
                           and 20 <= _age(m, day) <= 40), None)
            if mother:
                father = next((m for m in active if m.get("person_id") == mother["spouse_member"]), None)
                return kind, events.birth(actor, h.id, occurred_on=day, base_number=base,
                                          sex=rng.choice("12"), birth_place="县医院",
                                          name=_surname(father or mother) + rng.choice(GIVEN),
                                          mother=mother["person_id"], father=father and father["person_id"],
                                          submission_id=sub, today=today)
        elif kind == "death":
            old = next((m for m in active if _age(m, day) >= 78), None)
            if old:
                new_head = _successor(active, old)
                if old.get("relationship") == "02" and len(active) > 1 and new_head is None:
                    continue
                return kind, events.death(actor, h.id, person_id=old["person_id"], occurred_on=day,
                                          base_number=base,
                                          cause=rng.choice(["illness", "old_age", "old_age"]),
                                          source=rng.choice(["family", "hospital", "village"]),
                                          new_head=new_head, submission_id=sub, today=today)
        elif kind == "move_out":
            young = next((m for m in active if 18 <= _age(m, day) <= 30 and m.get("relationship") != "02"
                          and m.get("management") == "resident"), None)
            if young:
                return kind, events.move_out(actor, h.id, person_id=young["person_id"], occurred_on=day,
                                             base_number=base, reason=rng.choice(["work", "work", "study"]),
                                             destination=events.Destination(text=rng.choice(OUTSIDE_PLACES)),
                                             hukou_moves=False, submission_id=sub, today=today)
        elif kind == "marriage":
            single = next((m for m in active
                           if 23 <= _age(m, day) <= 35 and m.get("marital_status") == "10"), None)
            if single:
                return kind, events.marriage(actor, h.id, person_id=single["person_id"], occurred_on=day,
                                             base_number=base, spouse_name=rng.choice(SPOUSE_NAMES),
                                             submission_id=sub, today=today)
        elif kind == "divorce":
            married = next((m for m in active if m.get("relationship") == "02"
                            and (m.get("marital_status") or "").startswith("2")), None)
            if married and rng.random() < 0.1:
                return kind, events.divorce(actor, h.id, person_id=married["person_id"], occurred_on=day,
                                            base_number=base, submission_id=sub, today=today)
        elif kind == "move_in" and rng.random() < 0.2:  # rarer than the rest, though always possible
            result = _move_in(actor, h, day, rng, sub, today, households)
            if result is not None:
                return kind, result
        elif kind == "split":
            result = _split(actor, h, active, day, sub, today)
            if result is not None:
                return kind, result
    return "", None


def _move_in(actor: User, h: Household, day: dt.date, rng: random.Random, sub: uuid.UUID, today: dt.date,
             households: list[Household]) -> events.EventResult | None:
    """A non-head adult of another household of the same village comes to live here."""
    others = [o for o in households if o.village_id == h.village_id and o.id != h.id]
    rng.shuffle(others)
    for other in others[:5]:
        for m in other.current_version.data.get("members", []):
            if (m.get("status") or "active") == "active" and m.get("relationship") not in ("02", None) \
                    and m.get("id_number") and 18 <= _age(m, day) and not m.get("spouse_member"):
                return events.move_in(actor, h.id, occurred_on=day, base_number=h.current_number,
                                      relationship="97", reason="other", id_number=m["id_number"],
                                      submission_id=sub, today=today)
    return None


def _split(actor: User, h: Household, active: list[dict[str, Any]], day: dt.date, sub: uuid.UUID,
           today: dt.date) -> events.EventResult | None:
    """A married son leaves with his wife and children to form his own household."""
    son = next((m for m in active if m.get("relationship") in ("20", "21", "22", "23")
                and (m.get("marital_status") or "").startswith("2")), None)
    if son is None:
        return None
    wife = next((m for m in active if m.get("spouse_member") == son["person_id"]), None)
    leaving = {son["person_id"]: "02"}
    if wife:
        leaving[wife["person_id"]] = "12" if wife.get("sex") == "2" else "11"
    if len(leaving) >= len(active):
        return None
    return events.split(actor, h.id, person_ids=list(leaving), new_head=son["person_id"],
                        relationships=leaving, occurred_on=day, base_number=h.current_number,
                        submission_id=sub, today=today)


def _successor(active: list[dict[str, Any]], leaving: dict[str, Any]) -> str | None:
    """The spouse of a head who dies, else the eldest son (the usual choice in the villages)."""
    spouse = next((m for m in active if m.get("relationship") in ("10", "11", "12")), None)
    if spouse:
        return spouse["person_id"]
    sons = sorted((m for m in active
                   if m.get("relationship", "").startswith("2") and m.get("relationship") != "28"),
                  key=lambda m: m.get("birth_date") or "")
    return sons[0]["person_id"] if sons else None


def _age(m: dict[str, Any], on: dt.date) -> int:
    try:
        born = dt.date.fromisoformat(m.get("birth_date") or "")
    except ValueError:
        return -1
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _surname(m: dict[str, Any]) -> str:
    return (m.get("name") or "张")[:1]
