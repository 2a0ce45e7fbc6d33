"""The village scorecard (验收指标, issue 17): the seed's figures per village, summed per township
and county, each with its formula; the county's thresholds; the expected household counts; and
the villages' acceptance (验收) per round.

One aggregation core (STYLE.md 13): `village_figures(unit_path)` runs one grouped query per
source (households, HouseholdQuality, spot-check items, findings, duplicate candidates,
acceptance) over the villages under a unit, each an indexed range on the unit path or a list of
village ids, never a pass over households in Python; `scorecard(unit)` sums the villages into
the unit's children and the unit itself. Pages, the CSV of `flask quality scorecard` and the
acceptance read the same rows.

The figures:
- 入户率 households collected (collected_at set: a police pre-fill not yet saved at the door does
  not count, app.domain.prefill) ÷ households expected (UnitExpectation), both over the villages
  with an expected count; above 100 % (more collected than expected) is shown as it is, flagged;
- 主要数据项完整率 sum(main items filled) ÷ sum(main items required) of HouseholdQuality (the
  counts a run or a save wrote for the current version) of collected households;
- 主要数据项准确率 from spot checks: sum(items checked − items wrong) ÷ sum(items checked) over
  checked SpotCheckItem rows of the round's spot checks of the village;
- 逻辑关系误差率 logic errors ÷ (married women × 10): open married-woman findings (one per failed
  relation of one woman) of collected households whose explanation the township has not accepted;
- duplicates: persons still active in collected households and in open duplicate pairs ÷ persons;
- verified share: households verified (signed at three levels) ÷ households collected.

Acceptance: a round is accepted per village (VillageAcceptance); the village stays open for
work afterwards (nothing is lost) but every household with a version made after the decision
is shown as "changed after acceptance".

The domain flushes and never commits; the round is an argument (the app's setting
ACCEPTANCE_ROUND, or the year).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, distinct, func, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.domain import audit, scope, spot_checks
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.domain.tree import in_subtree, is_within
from app.extensions import db
from app.models import (AcceptanceState, AdminUnit, DuplicateCandidate, DuplicateState, ExplanationState, Household,
                        HouseholdQuality, HouseholdState, HouseholdVersion, ImportedList, ListRecord, ListState,
                        OverThreshold, QualityFinding, QualityThreshold, UnitExpectation,
                        User, VillageAcceptance, utcnow)
from app.models import Person

# The seed's thresholds (全员人口信息数据大集中验收方案), used while a county has set none.
DEFAULT_THRESHOLDS = {"entry_rate_min": 0.95, "completeness_min": 0.95, "accuracy_min": 0.95,
                      "logic_error_max": 0.10, "over_threshold": OverThreshold.errors.value}
# What a village over the threshold gets (the county's choice), said with the refusal.
OVER_THRESHOLD_TEXT = {
    OverThreshold.errors.value: {"zh": "处理：复查有错误的住户后重新申请验收",
                                 "en": "Next: re-check the households with errors, then apply again"},
    OverThreshold.all.value: {"zh": "处理：全部住户复查后重新申请验收",
                              "en": "Next: re-check every household, then apply again"},
}
RELATIONS_PER_WOMAN = 10
ACTIVE = "active"  # Person.status of a member not cancelled
APPLICATION_MAX = 2000
REASON_MAX = 1000
EXPECTED_MAX = 100_000  # households in one village: far above any real one, a typing slip above

# Each figure with its label and formula, zh first (the page shows them beside the figures).
FIGURES: dict[str, dict[str, dict[str, str]]] = {
    "entry_rate": {
        "label": {"zh": "入户率", "en": "Entry rate"},
        "formula": {"zh": "已入户采集户数 ÷ 应采集户数 × 100%",
                    "en": "households collected ÷ households expected × 100 %"}},
    "completeness_rate": {
        "label": {"zh": "主要数据项完整率", "en": "Completeness of main items"},
        "formula": {"zh": "已填主要数据项数 ÷ 应填主要数据项数 × 100%",
                    "en": "main items filled ÷ main items required × 100 %"}},
    "accuracy_rate": {
        "label": {"zh": "主要数据项准确率", "en": "Accuracy of main items"},
        "formula": {"zh": "抽查中准确的数据项数 ÷ 抽查的数据项数 × 100%",
                    "en": "items found right in spot checks ÷ items checked × 100 %"}},
    "logic_error_rate": {
        "label": {"zh": "逻辑关系误差率", "en": "Logic error rate"},
        "formula": {"zh": "逻辑关系错误数 ÷ (已婚育龄妇女数 × 10) × 100%",
                    "en": "logic errors ÷ (married women 15-49 × 10) × 100 %"}},
    "duplicate_rate": {
        "label": {"zh": "重复人口率", "en": "Duplicate rate"},
        "formula": {"zh": "已采集住户中疑似重复（未处理）的在册人数 ÷ 人口数 × 100%",
                    "en": "active persons of collected households in undecided duplicate pairs ÷ persons × 100 %"}},
    "verified_share": {
        "label": {"zh": "三级签字审核率", "en": "Share verified"},
        "formula": {"zh": "已审核（三级签字）户数 ÷ 已入户采集户数 × 100%",
                    "en": "households verified (signed at three levels) ÷ households collected × 100 %"}},
}

CSV_COLUMNS = ("unit_code", "unit_name", "households_expected", "households_collected", "entry_rate",
               "main_items_required", "main_items_filled", "completeness_rate", "married_women",
               "logic_errors", "logic_error_rate", "duplicates", "verified_share", "accepted")


def _ratio(numerator: int, denominator: int | None) -> float | None:
    return None if not denominator else numerator / denominator


@dataclass
class Figures:
    """The counts of one unit (a village, or the sum of the villages under a unit)."""

    unit_id: int
    code: str
    name: str
    level: str
    path: str
    villages: int = 0
    households_expected: int | None = None   # None: not entered for any village
    expected_missing: int = 0                # villages without an expected count
    households_collected: int = 0
    # Collected in the villages that have an expected count: the entry rate's numerator, so a
    # village without one does not raise a township's rate above its true value.
    collected_of_expected: int = 0
    over_expected: int = 0                   # villages that collected more than expected (check the count)
    households_verified: int = 0
    households_to_verify: int = 0            # police pre-fills not yet saved at the door
    persons: int = 0
    main_items_required: int = 0
    main_items_filled: int = 0
    items_checked: int = 0
    items_right: int = 0
    sample_size: int = 0                     # the round's village sample: persons sampled
    sample_entered: int = 0                  # ... and those whose results are entered
    married_women: int = 0
    logic_errors: int = 0
    duplicates: int = 0
    accepted_villages: int = 0
    changed_after_acceptance: int = 0        # households with a version after their village's acceptance
    acceptance: dict[str, Any] | None = None  # a village: its latest acceptance of the round

    @property
    def entry_rate(self) -> float | None:
        return _ratio(self.collected_of_expected, self.households_expected)

    @property
    def completeness_rate(self) -> float | None:
        return _ratio(self.main_items_filled, self.main_items_required)

    @property
    def accuracy_rate(self) -> float | None:
        return _ratio(self.items_right, self.items_checked)

    @property
    def logic_error_rate(self) -> float | None:
        return _ratio(self.logic_errors, self.married_women * RELATIONS_PER_WOMAN)

    @property
    def duplicate_rate(self) -> float | None:
        return _ratio(self.duplicates, self.persons)

    @property
    def verified_share(self) -> float | None:
        return _ratio(self.households_verified, self.households_collected)

    @property
    def accepted(self) -> bool:
        """A village: accepted in the round; a higher unit: all its villages are."""
        return self.villages > 0 and self.accepted_villages == self.villages

    def add(self, other: Figures) -> None:
        for name in ("villages", "expected_missing", "households_collected", "collected_of_expected",
                     "over_expected", "households_verified",
                     "households_to_verify", "persons", "main_items_required", "main_items_filled",
                     "items_checked", "items_right", "sample_size", "sample_entered", "married_women", "logic_errors", "duplicates",
                     "accepted_villages", "changed_after_acceptance"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.households_expected is not None:
            self.households_expected = (self.households_expected or 0) + other.households_expected

    def csv_row(self) -> dict[str, Any]:
        def rate(value: float | None) -> str:
            return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")
        return {"unit_code": self.code, "unit_name": self.name,
                "households_expected": "" if self.households_expected is None else self.households_expected,
                "households_collected": self.households_collected, "entry_rate": rate(self.entry_rate),
                "main_items_required": self.main_items_required, "main_items_filled": self.main_items_filled,
                "completeness_rate": rate(self.completeness_rate), "married_women": self.married_women,
                "logic_errors": self.logic_errors, "logic_error_rate": rate(self.logic_error_rate),
                "duplicates": self.duplicates, "verified_share": rate(self.verified_share),
                "accepted": int(self.accepted)}

    def as_dict(self) -> dict[str, Any]:
        """The row kept with an acceptance decision (VillageAcceptance.figures)."""
        row = {k: v for k, v in self.csv_row().items()}
        row.update(items_checked=self.items_checked, items_right=self.items_right,
                   sample_size=self.sample_size, sample_entered=self.sample_entered,
                   accuracy_rate=self.accuracy_rate, persons=self.persons,
                   duplicate_rate=self.duplicate_rate, households_verified=self.households_verified,
                   over_expected=self.over_expected)
        for key in ("entry_rate", "completeness_rate", "logic_error_rate", "verified_share"):
            row[key] = getattr(self, key)
        return row


def _blank(unit: AdminUnit) -> Figures:
    return Figures(unit_id=unit.id, code=unit.code, name=unit.name, level=unit.level, path=unit.path)


# ---------------------------------------------------------------- the aggregation core

def village_figures(path: str, round_: str) -> dict[int, Figures]:
    """The figures of every village under the unit with this path (or of the village itself),
    by village id: one grouped query per source."""
    villages = db.session.execute(
        select(AdminUnit).where(AdminUnit.level == "village", in_subtree(AdminUnit.path, path))
        .order_by(AdminUnit.code)).scalars().all()
    rows = {v.id: _blank(v) for v in villages}
    for f in rows.values():
        f.villages = 1
    if not rows:
        return rows
    ids = list(rows)
    under = in_subtree

    # Households (collected, verified, pre-filled still to be verified at the door) and the
    # counts of their current versions, of collected households only (a police pre-fill is not
    # yet the village's data): one pass over the unit's households, each with its
    # HouseholdQuality by primary key.
    collected = Household.collected_at.is_not(None)
    hq = HouseholdQuality

    def of_collected(column):
        return func.sum(case((collected, column), else_=0))

    for vid, n_collected, n_verified, n_waiting, persons, required, filled, women in db.session.execute(
            select(Household.village_id,
                   func.count(Household.collected_at),
                   func.sum(case((and_(collected, Household.state == HouseholdState.verified.value), 1), else_=0)),
                   func.sum(case((collected, 0), else_=1)),
                   of_collected(hq.persons), of_collected(hq.main_items_required),
                   of_collected(hq.main_items_filled), of_collected(hq.married_women))
            .outerjoin(hq, hq.household_id == Household.id)
            .where(under(Household.unit_path, path)).group_by(Household.village_id)):
        if vid in rows:
            f = rows[vid]
            f.households_collected, f.households_verified = int(n_collected or 0), int(n_verified or 0)
            f.households_to_verify = int(n_waiting or 0)
            f.persons, f.main_items_required = int(persons or 0), int(required or 0)
            f.main_items_filled, f.married_women = int(filled or 0), int(women or 0)

    for vid, n in db.session.execute(select(UnitExpectation.village_id, UnitExpectation.households_expected)
                                     .where(UnitExpectation.village_id.in_(ids))):
        rows[vid].households_expected = n
    for f in rows.values():
        f.expected_missing = int(f.households_expected is None)
        if f.households_expected is not None:
            f.collected_of_expected = f.households_collected
            # Kept as it is (a rate over 100 %), not capped: the page asks to check the count.
            f.over_expected = int(f.households_collected > f.households_expected)

    # Accuracy from the round's spot checks (one computation: app.domain.spot_checks), and how
    # much of the round's village sample is entered (the acceptance waits for all of it).
    for vid, (checked, right) in spot_checks.accuracy_by_village(ids, round_).items():
        rows[vid].items_checked, rows[vid].items_right = checked, right
    for vid, (entered, sampled) in spot_checks.sample_progress(ids, round_).items():
        rows[vid].sample_entered, rows[vid].sample_size = entered, sampled

    # Logic errors: one open finding per failed relation of one woman; an explanation the
    # township accepted takes it out of the count (the finding is kept). Only findings of
    # collected households: the married women (the denominator) are theirs, and a run checks
    # police pre-fills too (app.domain.quality_runs).
    for vid, n in db.session.execute(
            select(QualityFinding.village_id, func.count())
            .join(Household, and_(Household.id == QualityFinding.household_id, collected))
            .where(under(QualityFinding.unit_path, path), QualityFinding.scope == "married_woman",
                   QualityFinding.resolved_at.is_(None),
                   or_(QualityFinding.explanation_state.is_(None),
                       QualityFinding.explanation_state != ExplanationState.accepted.value))
            .group_by(QualityFinding.village_id)):
        if vid in rows:
            rows[vid].logic_errors = int(n)

    _duplicates(rows, path)
    _acceptance(rows, path, ids, round_)
    return rows


def _duplicates(rows: dict[int, Figures], path: str) -> None:
    """Persons of each village in a pair still to decide, each counted once however many pairs
    they are in: only persons still active in a collected household, as the persons (the
    denominator) are counted (a pair may name a police pre-fill never seen at the door, as
    app.domain.duplicates reads every active person). A pair decided "same" is not counted: the
    decision cancels the record not kept in the same transaction."""
    def side(person_id, household_id, unit_path):
        return (select(person_id.label("person_id"), unit_path.label("unit_path")).select_from(DuplicateCandidate)
                .join(Household, and_(Household.id == household_id, Household.collected_at.is_not(None)))
                .join(Person, and_(Person.id == person_id, Person.status == ACTIVE))
                .where(DuplicateCandidate.state == DuplicateState.open.value, in_subtree(unit_path, path)))

    sides = union_all(
        side(DuplicateCandidate.left_person_id, DuplicateCandidate.left_household_id, DuplicateCandidate.unit_path),
        side(DuplicateCandidate.right_person_id, DuplicateCandidate.right_household_id,
             DuplicateCandidate.other_unit_path),
    ).subquery()
    by_path = {f.path: f for f in rows.values()}
    seen: dict[int, set] = {}
    # Pairs still to decide are few beside the persons: their ids are read and counted per village.
    for unit_path, person_id in db.session.execute(select(sides.c.unit_path, sides.c.person_id).distinct()):
        village = _village_of_path(unit_path, by_path)
        if village is not None:
            seen.setdefault(village.unit_id, set()).add(person_id)
    for vid, ids in seen.items():
        rows[vid].duplicates = len(ids)


def _village_of_path(path: str, by_path: dict[str, Figures]) -> Figures | None:
    """The village of a unit path (a village's, or one of its groups')."""
    while path:
        if path in by_path:
            return by_path[path]
        path = path[:path.rstrip("/").rfind("/") + 1]
    return None


def _acceptance(rows: dict[int, Figures], path: str, ids: list[int], round_: str) -> None:
    latest: dict[int, VillageAcceptance] = {}
    for acc in db.session.execute(select(VillageAcceptance).where(VillageAcceptance.village_id.in_(ids),
                                                                   VillageAcceptance.round == round_)
                                  .order_by(VillageAcceptance.applied_at, VillageAcceptance.id)).scalars():
        latest[acc.village_id] = acc
    accepted_ids = []
    for vid, acc in latest.items():
        rows[vid].acceptance = {"id": acc.id, "state": acc.state, "applied_at": acc.applied_at,
                                "decided_at": acc.decided_at, "reason": acc.reason}
        rows[vid].accepted_villages = int(acc.state == AcceptanceState.accepted.value)
        if rows[vid].accepted_villages:
            accepted_ids.append(vid)
    if not accepted_ids:
        return
    # Households changed after their village's acceptance of this round: a version made later
    # (the accepted villages' households only, by the village's index).
    accepted = (select(VillageAcceptance.village_id, VillageAcceptance.decided_at)
                .where(VillageAcceptance.village_id.in_(accepted_ids), VillageAcceptance.round == round_,
                       VillageAcceptance.state == AcceptanceState.accepted.value).subquery())
    for vid, n in db.session.execute(
            select(Household.village_id, func.count(distinct(Household.id)))
            .join(accepted, accepted.c.village_id == Household.village_id)
            .join(HouseholdVersion, and_(HouseholdVersion.household_id == Household.id,
                                         HouseholdVersion.created_at > accepted.c.decided_at))
            .where(Household.village_id.in_(accepted_ids)).group_by(Household.village_id)):
        rows[vid].changed_after_acceptance = int(n)


@dataclass
class Scorecard:
    unit: AdminUnit
    total: Figures
    children: list[Figures] = field(default_factory=list)   # the unit's child units (a village: none)
    villages: dict[int, Figures] = field(default_factory=dict)
    round: str = ""


def scorecard(unit: AdminUnit, round_: str) -> Scorecard:
    """The unit's figures, and those of each child unit (townships of a county, villages of a
    township), each the sum of the villages under it."""
    villages = village_figures(unit.path, round_)
    total = _blank(unit)
    if unit.level == "village":
        total = villages.get(unit.id, total)
        return Scorecard(unit, total, [], villages, round_)
    children = [] if unit.level == "village" else db.session.execute(
        select(AdminUnit).where(AdminUnit.parent_id == unit.id).order_by(AdminUnit.code)).scalars().all()
    child_rows = []
    for child in children:
        if child.level == "group":
            continue
        row = villages[child.id] if child.id in villages else _blank(child)
        if child.level != "village":
            for v in villages.values():
                if is_within(v.path, child.path):
                    row.add(v)
        child_rows.append(row)
    for v in villages.values():
        total.add(v)
    return Scorecard(unit, total, child_rows, villages, round_)


def scorecard_for(actor: User, unit_id: int, round_: str) -> Scorecard:
    unit = scope.require_unit(actor, unit_id, "quality.view")
    return scorecard(unit, round_)


def csv_rows(card: Scorecard) -> list[dict[str, Any]]:
    """`flask quality scorecard`: a row per child unit, then the unit's own."""
    return [row.csv_row() for row in card.children] + [card.total.csv_row()]


# ---------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class Thresholds:
    entry_rate_min: float
    completeness_min: float
    accuracy_min: float
    logic_error_max: float
    over_threshold: str
    county_id: int | None = None
    set: bool = False  # False: the seed's defaults


def county_of(unit: AdminUnit) -> AdminUnit | None:
    """The county above (or at) a unit, from its path."""
    return db.session.scalar(select(AdminUnit).where(AdminUnit.path.in_(_ancestor_paths(unit.path)),
                                                     AdminUnit.level == "county"))


def thresholds_of(county: AdminUnit | None) -> Thresholds:
    row = None if county is None else db.session.get(QualityThreshold, county.id)
    if row is None:
        return Thresholds(**DEFAULT_THRESHOLDS, county_id=None if county is None else county.id)
    return Thresholds(row.entry_rate_min, row.completeness_min, row.accuracy_min, row.logic_error_max,
                      row.over_threshold, county.id, True)


def _percent(field: str, text: Any) -> float:
    """A percentage typed on the page (e.g. "95" or "95.5") as a fraction."""
    value = str(text if text is not None else "").strip().rstrip("%").strip()
    try:
        number = float(value)
    except ValueError:
        raise Invalid(_("%(field)s: give a percentage from 0 to 100.", field=_label(field)), field=field) from None
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise Invalid(_("%(field)s: give a percentage from 0 to 100.", field=_label(field)), field=field)
    return round(number / 100, 6)


def _label(field: str) -> str:
    return {"entry_rate_min": _("Entry rate at least"), "completeness_min": _("Completeness at least"),
            "accuracy_min": _("Accuracy at least"), "logic_error_max": _("Logic error rate at most"),
            "over_threshold": _("Over the threshold"), "households_expected": _("Households expected"),
            "application": _("Application"), "reason": _("Reason")}.get(field, field)


def set_thresholds(actor: User, county_id: int, form: dict[str, Any]) -> QualityThreshold:
    """The county administrator sets the county's thresholds (percentages as typed)."""
    county = scope.require_unit(actor, county_id, "quality.thresholds")
    if county.level != "county":
        raise Invalid(_("Thresholds are set for a county."), field="county_id")
    values = {k: _percent(k, form.get(k)) for k in ("entry_rate_min", "completeness_min", "accuracy_min",
                                                     "logic_error_max")}
    over = str(form.get("over_threshold") or "")
    if over not in {s.value for s in OverThreshold}:
        raise Invalid(_("%(field)s: choose what a village over the threshold gets.", field=_label("over_threshold")),
                      field="over_threshold")
    row = db.session.get(QualityThreshold, county.id)
    before = None if row is None else {k: getattr(row, k) for k in (*values, "over_threshold")}
    # An upsert, not read-then-insert: two first saves at once both end well (the last wins).
    _upsert(QualityThreshold, {"county_id": county.id, **values, "over_threshold": over, "set_by_id": actor.id,
                               "set_at": utcnow()})
    row = db.session.get(QualityThreshold, county.id, populate_existing=True)
    audit.record("quality.thresholds", actor=actor, object_type="admin_unit", object_id=county.id,
                 details={"before": before, "after": {**values, "over_threshold": over}})
    return row


def failures(row: Figures, limits: Thresholds) -> list[dict[str, str]]:
    """The figures of `row` that do not meet the thresholds, each as a zh/en sentence."""
    out: list[dict[str, str]] = []

    def pct(v: float) -> str:
        return f"{v * 100:.1f}%"

    def low(key: str, value: float | None, minimum: float, missing: dict[str, str]) -> None:
        label = FIGURES[key]["label"]
        if value is None:
            out.append(missing)
        elif value < minimum:
            out.append({"zh": f"{label['zh']} {pct(value)}，低于 {pct(minimum)}",
                        "en": f"{label['en']} {pct(value)}, below {pct(minimum)}"})

    low("entry_rate", row.entry_rate, limits.entry_rate_min,
        {"zh": "入户率：未填应采集户数", "en": "Entry rate: the households expected are not entered"})
    low("completeness_rate", row.completeness_rate, limits.completeness_min,
        {"zh": "主要数据项完整率：无已采集的数据", "en": "Completeness: no collected data"})
    low("accuracy_rate", row.accuracy_rate, limits.accuracy_min,
        {"zh": "主要数据项准确率：尚无已录入的抽查结果", "en": "Accuracy: no spot-check results entered yet"})
    if row.sample_entered < row.sample_size:
        # The accuracy of a part of the sample is not the village's: wait for every sampled woman.
        out.append({"zh": f"抽查结果未录完：已录入 {row.sample_entered}/{row.sample_size}",
                    "en": f"Spot check results not all entered: {row.sample_entered}/{row.sample_size} entered"})
    rate = row.logic_error_rate
    if rate is not None and rate > limits.logic_error_max:
        label = FIGURES["logic_error_rate"]["label"]
        out.append({"zh": f"{label['zh']} {pct(rate)}，高于 {pct(limits.logic_error_max)}",
                    "en": f"{label['en']} {pct(rate)}, above {pct(limits.logic_error_max)}"})
    return out


# ---------------------------------------------------------------- expected households

def _expected_number(text: Any) -> int:
    value = str(text if text is not None else "").strip()
    if not (value.isascii() and value.isdigit()) or int(value) > EXPECTED_MAX:
        raise Invalid(_("%(field)s: give a whole number from 0 to %(max)d.", field=_label("households_expected"),
                        max=EXPECTED_MAX), field="households_expected")
    return int(value)


def _village(actor: User, village_id: int, permission: str) -> AdminUnit:
    unit = scope.require_unit(actor, village_id, permission)
    if unit.level != "village":
        raise Invalid(_("Choose a village."), field="village_id")
    return unit


def set_expected(actor: User, values: dict[int, Any]) -> int:
    """Households expected per village as entered ({village id: text}); empty text leaves a
    village as it is. All are checked before any is written. Returns how many changed."""
    checked: list[tuple[AdminUnit, int]] = []
    for village_id, text in values.items():
        if str(text if text is not None else "").strip() == "":
            continue
        unit = _village(actor, village_id, "quality.expected")
        try:
            checked.append((unit, _expected_number(text)))
        except Invalid as e:
            raise Invalid(f"{unit.name}: {e.message}", field=f"expected-{unit.id}") from None
    changed = 0
    for unit, n in checked:
        changed += _put_expected(actor, unit, n, "entered", None)
    return changed


def _put_expected(actor: User | None, unit: AdminUnit, n: int, source: str, list_id: int | None) -> int:
    row = db.session.get(UnitExpectation, unit.id)
    if row is not None and (row.households_expected, row.source, row.list_id) == (n, source, list_id):
        return 0
    before = None if row is None else {"households_expected": row.households_expected, "source": row.source,
                                       "list_id": row.list_id}
    # An upsert, not read-then-insert: two first saves at once both end well (the last wins).
    _upsert(UnitExpectation, {"village_id": unit.id, "households_expected": n, "source": source, "list_id": list_id,
                              "set_by_id": actor.id if actor else None, "set_at": utcnow()})
    if row is not None:
        db.session.expire(row)
    audit.record("quality.expected", actor=actor, object_type="admin_unit", object_id=unit.id,
                 details={"before": before, "after": {"households_expected": n, "source": source, "list_id": list_id}})
    return 1


def _upsert(model: type, values: dict[str, Any]) -> None:
    """Insert the row, or update it where its primary key exists (as prefill's card counter)."""
    table = model.__table__
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=keys, set_={k: stmt.excluded[k] for k in values if k not in keys}))


def _ancestor_paths(path: str) -> list[str]:
    """The paths above (and at) `path`, with the root "" (a list the system imported)."""
    parts = [p for p in path.split("/") if p]
    return [""] + ["".join(p + "/" for p in parts[:i]) for i in range(1, len(parts) + 1)]


def police_lists(actor: User, unit: AdminUnit) -> list[ImportedList]:
    """Imported police registers the user may take expected counts from for villages under
    `unit`: those imported in the user's area, and those imported above the unit (by the city,
    or by the system from the command line), whose rows cover it. Only the counts of the
    user's own villages are read from them."""
    return list(db.session.execute(
        select(ImportedList).where(ImportedList.source == "police", ImportedList.state == ListState.loaded.value,
                                   or_(scope.scope_filter(actor, ImportedList.unit_path, "unit.view"),
                                       ImportedList.unit_path.in_(_ancestor_paths(unit.path))))
        .order_by(ImportedList.id.desc())).scalars())


def expected_from_list(actor: User, unit_id: int, list_id: int) -> int:
    """Households expected of every village under the unit = distinct 户号 of the police list's
    records in that village. Returns how many villages changed."""
    unit = scope.require_unit(actor, unit_id, "quality.expected")
    imported = db.session.get(ImportedList, list_id)
    if imported is None or imported not in police_lists(actor, unit):
        raise Invalid(_("Choose an imported police register."), field="list_id")
    villages = {v.id: v for v in db.session.execute(
        select(AdminUnit).where(AdminUnit.level == "village", in_subtree(AdminUnit.path, unit.path))).scalars()
        if scope.can(actor, "quality.expected", v)}
    counts = db.session.execute(
        select(ListRecord.village_id, func.count(distinct(ListRecord.household_no)))
        .where(ListRecord.list_id == list_id, ListRecord.village_id.in_(list(villages)),
               ListRecord.household_no.is_not(None), ListRecord.household_no != "")
        .group_by(ListRecord.village_id)).all()
    if not counts:
        raise Invalid(_("The list has no household numbers (户号) in these villages."), field="list_id")
    return sum(_put_expected(actor, villages[vid], int(n), "list", list_id) for vid, n in counts)


# ---------------------------------------------------------------- acceptance

def apply(actor: User, village_id: int, round_: str, application: Any) -> VillageAcceptance:
    """The village leader's written application for acceptance (书面验收申请)."""
    village = _village(actor, village_id, "acceptance.apply")
    text = str(application or "").strip()
    if not text:
        raise Invalid(_("%(field)s: write the application.", field=_label("application")), field="application")
    if len(text) > APPLICATION_MAX:
        raise Invalid(_("%(field)s: at most %(n)d characters.", field=_label("application"), n=APPLICATION_MAX),
                      field="application")
    live = db.session.scalar(select(VillageAcceptance).where(
        VillageAcceptance.village_id == village.id, VillageAcceptance.round == round_,
        VillageAcceptance.state.in_([AcceptanceState.applied.value, AcceptanceState.accepted.value])))
    if live is not None:
        raise Conflict(_("%(village)s has already applied or been accepted in round %(round)s.",
                         village=village.name, round=round_))
    row = VillageAcceptance(village_id=village.id, round=round_, state=AcceptanceState.applied.value,
                            applied_by_id=actor.id, applied_at=utcnow(), application=text)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()  # the partial unique index refuses a second live application raced in
    except IntegrityError:
        raise Conflict(_("%(village)s has already applied or been accepted in round %(round)s.",
                         village=village.name, round=round_)) from None
    audit.record("acceptance.apply", actor=actor, object_type="village_acceptance", object_id=row.id,
                 details={"village_id": village.id, "round": round_})
    return row


def get_acceptance(actor: User, acceptance_id: int, permission: str = "quality.view") -> VillageAcceptance:
    row = db.session.get(VillageAcceptance, acceptance_id)
    if row is None or not scope.can(actor, "unit.view", row.village):
        raise NotFound(_("No such application for acceptance."))
    if not scope.can(actor, permission, row.village):
        raise Forbidden(_("You may not do this in %(unit)s.", unit=row.village.name))
    return row


@dataclass
class Decision:
    acceptance: VillageAcceptance
    failures: list[dict[str, str]]


def decide(actor: User, acceptance_id: int, *, accept: bool, reason: Any = None) -> Decision:
    """The township runs the acceptance: refused automatically, naming the failing figures,
    while a threshold is not met; otherwise accepted, or refused with the township's reason."""
    row = get_acceptance(actor, acceptance_id, "acceptance.decide")
    if row.applied_by_id == actor.id:
        # Four eyes: a user holding both the leader's and the verifier's role does not accept
        # the village's own application.
        raise Forbidden(_("You applied for this acceptance: another user of the township decides it."))
    if row.state != AcceptanceState.applied.value:
        raise Conflict(_("This application has already been decided."))
    words = str(reason or "").strip()
    if len(words) > REASON_MAX:
        raise Invalid(_("%(field)s: at most %(n)d characters.", field=_label("reason"), n=REASON_MAX), field="reason")
    if not accept and not words:
        raise Invalid(_("%(field)s: say why the village is refused.", field=_label("reason")), field="reason")
    village = row.village
    figures = village_figures(village.path, row.round).get(village.id) or _blank(village)
    limits = thresholds_of(county_of(village))
    failing = failures(figures, limits)
    if failing:
        state = AcceptanceState.refused
        next_step = OVER_THRESHOLD_TEXT[limits.over_threshold]
        text = ("；".join(f["zh"] for f in failing) + "。" + next_step["zh"] + "\n"
                + "; ".join(f["en"] for f in failing) + ". " + next_step["en"])
        if words:
            text += "\n" + words
    elif accept:
        state, text = AcceptanceState.accepted, words or None
    else:
        state, text = AcceptanceState.refused, words
    kept = figures.as_dict()
    kept["failures"] = failing
    kept["thresholds"] = {"entry_rate_min": limits.entry_rate_min, "completeness_min": limits.completeness_min,
                          "accuracy_min": limits.accuracy_min, "logic_error_max": limits.logic_error_max,
                          "over_threshold": limits.over_threshold, "set": limits.set}
    # Only an application still pending is decided: of two township users deciding at once,
    # the second is told it was decided (a guarded update, not check-then-write).
    done = db.session.execute(
        update(VillageAcceptance).where(VillageAcceptance.id == row.id,
                                        VillageAcceptance.state == AcceptanceState.applied.value)
        .values(state=state.value, decided_by_id=actor.id, decided_at=utcnow(), figures=kept, reason=text)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict(_("This application has already been decided."))
    db.session.refresh(row)
    audit.record("acceptance.decide", actor=actor, object_type="village_acceptance", object_id=row.id,
                 details={"village_id": village.id, "round": row.round, "state": state.value,
                          "asked": "accept" if accept else "refuse", "failures": [f["en"] for f in failing]})
    return Decision(row, failing)


def history_of(village: AdminUnit, round_: str | None = None) -> list[VillageAcceptance]:
    query = select(VillageAcceptance).where(VillageAcceptance.village_id == village.id)
    if round_ is not None:
        query = query.where(VillageAcceptance.round == round_)
    return list(db.session.execute(query.order_by(VillageAcceptance.applied_at.desc(),
                                                  VillageAcceptance.id.desc())).scalars())


def accepted_in(village_id: int, round_: str) -> VillageAcceptance | None:
    return db.session.scalar(select(VillageAcceptance).where(
        VillageAcceptance.village_id == village_id, VillageAcceptance.round == round_,
        VillageAcceptance.state == AcceptanceState.accepted.value))


def changed_after_acceptance(household: Household, round_: str) -> VillageAcceptance | None:
    """The acceptance of the household's village in the round, if the household has a version
    made after it (the household page flags it)."""
    acc = accepted_in(household.village_id, round_)
    if acc is None or acc.decided_at is None:
        return None
    later = db.session.scalar(select(func.count()).select_from(HouseholdVersion).where(
        HouseholdVersion.household_id == household.id, HouseholdVersion.created_at > acc.decided_at))
    return acc if later else None


def changed_households(village: AdminUnit, round_: str, limit: int = 200) -> list[tuple[Household, int]]:
    """Households of an accepted village with versions made after the acceptance, and how many."""
    acc = accepted_in(village.id, round_)
    if acc is None or acc.decided_at is None:
        return []
    return [(h, int(n)) for h, n in db.session.execute(
        select(Household, func.count(HouseholdVersion.id))
        .join(HouseholdVersion, HouseholdVersion.household_id == Household.id)
        .where(Household.village_id == village.id, HouseholdVersion.created_at > acc.decided_at)
        .group_by(Household.id).order_by(Household.card_no).limit(limit))]


__all__ = ["CSV_COLUMNS", "FIGURES", "Figures", "Scorecard", "Thresholds", "apply", "csv_rows", "decide",
           "expected_from_list", "failures", "scorecard", "scorecard_for", "set_expected", "set_thresholds",
           "thresholds_of", "village_figures"]
