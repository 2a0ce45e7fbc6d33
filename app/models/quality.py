"""Quality checks and village acceptance (issue 17): what the registry-wide checks found, the
duplicate candidates and their decisions, spot checks, the county's thresholds, the expected
household counts and the villages' acceptance.

Findings are rows, not recomputation: lists and rates are queries. A finding is never deleted:
when a run (or a save of its household) no longer finds it, it is resolved (resolved_at); an
explanation (说明) is kept beside it and takes it out of the error count only once the township
has accepted it. The rules themselves are `quality/` (pure, no Flask).
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (BigInteger, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, PathString, UTCDateTime, utcnow
from app.models.units import AdminUnit
from app.models.users import User

_BIGINT = BigInteger().with_variant(Integer(), "sqlite")


def _in(values) -> str:
    return ",".join(f"'{v}'" for v in values)


class RunState(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class QualityRun(Base):
    """One registry-wide run of the rules (`flask quality run`, or the job from a page) over the
    households of a unit (None: the whole registry)."""

    __tablename__ = "quality_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"))
    unit_path: Mapped[str] = mapped_column(PathString, default="")
    state: Mapped[str] = mapped_column(String(10), default=RunState.queued.value)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    progress_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # a silent job died
    households_done: Mapped[int] = mapped_column(Integer, default=0)
    households_total: Mapped[int | None] = mapped_column(Integer)
    findings_open: Mapped[int | None] = mapped_column(Integer)      # open after the run, in its unit
    findings_new: Mapped[int | None] = mapped_column(Integer)
    findings_resolved: Mapped[int | None] = mapped_column(Integer)
    duplicates_found: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[AdminUnit | None] = relationship()
    asked_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"state IN ({_in(s.value for s in RunState)})", name="state_known"),
    )


class ExplanationState(str, enum.Enum):
    proposed = "proposed"   # written by the collector or leader; still counts as an error
    accepted = "accepted"   # the township accepted it: no longer counted, still kept
    refused = "refused"     # the township refused it: counts, and the reason is shown


class QualityFinding(Base):
    """What one rule found in one household (a member's field, the member, or the household).

    `fingerprint` names the finding across runs and saves: rule, household, path and, for rules
    across households, the other household; at most one open finding has a fingerprint."""

    __tablename__ = "quality_finding"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(240))
    rule: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(8))      # error | warning
    scope: Mapped[str] = mapped_column(String(24))     # person | household | across_households | married_woman
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    # The person register's id (Person.id, stable across versions); None for a household finding.
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    member_index: Mapped[int | None] = mapped_column(Integer)  # position in the version's members
    path: Mapped[str] = mapped_column(String(100), default="")  # "members[2].id_number", "household.phone"
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    message: Mapped[dict[str, str]] = mapped_column(JSONType)   # {"zh": ..., "en": ...}
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # e.g. the other household
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))  # None: found at a save
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))
    explanation: Mapped[str | None] = mapped_column(Text)
    explanation_state: Mapped[str | None] = mapped_column(String(10))
    explained_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    explained_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    explanation_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    explanation_decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    explanation_reason: Mapped[str | None] = mapped_column(Text)  # why the township refused it

    village: Mapped[AdminUnit] = relationship()
    explained_by: Mapped[User | None] = relationship(foreign_keys=[explained_by_id])
    explanation_decided_by: Mapped[User | None] = relationship(foreign_keys=[explanation_decided_by_id])

    __table_args__ = (
        CheckConstraint("level IN ('error','warning')", name="level_known"),
        CheckConstraint(f"explanation_state IS NULL OR explanation_state IN ({_in(s.value for s in ExplanationState)})",
                        name="explanation_state_known"),
        # One open finding per fingerprint: a run and a save racing cannot both open it.
        Index("uq_quality_finding_open", "fingerprint", unique=True,
              sqlite_where=text("resolved_at IS NULL"), postgresql_where=text("resolved_at IS NULL")),
        Index("ix_quality_finding_village_id_resolved_at", "village_id", "resolved_at"),
    )

    @property
    def counts_as_error(self) -> bool:
        """Open, an error, and not explained with the township's acceptance."""
        return self.resolved_at is None and self.level == "error" \
            and self.explanation_state != ExplanationState.accepted.value


class HouseholdQuality(Base):
    """A household's counts for the scorecard, as of its current version: written by a run and
    by every save of the household (so a township's figures are sums, not a pass over forms)."""

    __tablename__ = "household_quality"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    version_number: Mapped[int] = mapped_column(Integer)   # the version these counts are of
    persons: Mapped[int] = mapped_column(Integer)            # active members
    main_items_required: Mapped[int] = mapped_column(Integer)
    main_items_filled: Mapped[int] = mapped_column(Integer)
    married_women: Mapped[int] = mapped_column(Integer)      # aged 15-49: the logic rate's denominator / 10
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))  # None: at a save


class DuplicateState(str, enum.Enum):
    open = "open"            # proposed, not yet decided
    same = "same"            # the same person: one record cancelled as 重复 by a version
    not_same = "not_same"    # remembered: never proposed again
    gone = "gone"            # a later run no longer finds it (a record changed or was cancelled)


class DuplicateCandidate(Base):
    """Two person records that may be one person (matching.find_duplicates), with the score and
    the reasons a clerk reads; decided on a side-by-side page. The pair is ordered (left_person_id
    < right_person_id as text) so it has one row."""

    __tablename__ = "duplicate_candidate"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    left_person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    right_person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    left_household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    right_household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"), index=True)
    # Where it is worked: the left record's village (each side's village sees it through scope).
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    other_unit_path: Mapped[str] = mapped_column(PathString, index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # [{"rule", "score", "message": {zh, en}}]
    state: Mapped[str] = mapped_column(String(10), default=DuplicateState.open.value)
    found_run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("quality_run.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    kept_person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)          # "same": the record kept
    cancel_household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("household.id"))
    cancel_version_number: Mapped[int | None] = mapped_column(Integer)     # the version that cancelled

    decided_by: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("left_person_id", "right_person_id"),
        CheckConstraint(f"state IN ({_in(s.value for s in DuplicateState)})", name="state_known"),
        CheckConstraint("(state IN ('same','not_same')) = (decided_at IS NOT NULL)", name="decided_when"),
        Index("ix_duplicate_candidate_village_id_state", "village_id", "state"),
    )


class UnitExpectation(Base):
    """Households expected in a village (入户率's denominator): entered by the township, or
    taken from an imported police register (list_id)."""

    __tablename__ = "unit_expectation"

    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), primary_key=True)
    households_expected: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # entered | list
    list_id: Mapped[int | None] = mapped_column(ForeignKey("imported_list.id"))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("households_expected >= 0", name="not_negative"),
        CheckConstraint("source IN ('entered','list')", name="source_known"),
    )


class OverThreshold(str, enum.Enum):
    errors = "errors"   # re-check the households with errors
    all = "all"         # re-check every household of the village


class QualityThreshold(Base):
    """A county's thresholds for accepting its villages (defaults from the seed: completeness and
    accuracy >= 95 %, logic error rate <= 10 %, entry rate >= 95 %); rates as fractions 0-1."""

    __tablename__ = "quality_threshold"

    county_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), primary_key=True)
    entry_rate_min: Mapped[float] = mapped_column(Float, default=0.95)
    completeness_min: Mapped[float] = mapped_column(Float, default=0.95)
    accuracy_min: Mapped[float] = mapped_column(Float, default=0.95)
    logic_error_max: Mapped[float] = mapped_column(Float, default=0.10)
    over_threshold: Mapped[str] = mapped_column(String(10), default=OverThreshold.errors.value)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(f"over_threshold IN ({_in(s.value for s in OverThreshold)})", name="over_threshold_known"),
    )


class AcceptanceState(str, enum.Enum):
    applied = "applied"     # the village leader's written application (书面验收申请)
    refused = "refused"     # a threshold failed (automatically, with the figures) or the township refused
    accepted = "accepted"   # frozen for the round: later changes show as such


class VillageAcceptance(Base):
    """A village's acceptance (验收) for a round of the campaign: applied by its leader, run by
    the township; the scorecard at the decision is kept with it."""

    __tablename__ = "village_acceptance"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    round: Mapped[str] = mapped_column(String(20))   # e.g. "2026"
    state: Mapped[str] = mapped_column(String(10), default=AcceptanceState.applied.value)
    applied_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    application: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # the scorecard row at the decision
    reason: Mapped[str | None] = mapped_column(Text)  # the failing figures, or the township's words

    village: Mapped[AdminUnit] = relationship()
    applied_by: Mapped[User] = relationship(foreign_keys=[applied_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        CheckConstraint(f"state IN ({_in(s.value for s in AcceptanceState)})", name="state_known"),
        # At most one application a village and round is pending or accepted at a time.
        Index("uq_village_acceptance_live", "village_id", "round", unique=True,
              sqlite_where=text("state IN ('applied','accepted')"),
              postgresql_where=text("state IN ('applied','accepted')")),
    )


class SpotCheck(Base):
    """A village's spot check (抽查): married women 15-49 (with their households) sampled at the
    seed's rate for the village's population, reproducible from `seed`; or a county's sample
    point of 30 households (kind "point")."""

    __tablename__ = "spot_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="village")  # village | point
    round: Mapped[str] = mapped_column(String(20))
    seed: Mapped[str] = mapped_column(String(40))
    population: Mapped[int] = mapped_column(Integer)
    married_women: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    village: Mapped[AdminUnit] = relationship()
    items: Mapped[list[SpotCheckItem]] = relationship(back_populates="spot_check", order_by="SpotCheckItem.position")

    __table_args__ = (
        CheckConstraint("kind IN ('village','point')", name="kind_known"),
        # One village sample a village and round (a double submit, or redrawing with new seeds
        # until the sample suits, is refused); the county's sample points are not limited.
        Index("uq_spot_check_village_round", "village_id", "round", unique=True,
              sqlite_where=text("kind = 'village'"), postgresql_where=text("kind = 'village'")),
    )


class SpotCheckItem(Base):
    """One sampled person (a married woman, with her household) and what the checker found at
    the door per main item: accuracy = items found right / items checked."""

    __tablename__ = "spot_check_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_check.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id"))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    member_index: Mapped[int | None] = mapped_column(Integer)
    version_number: Mapped[int] = mapped_column(Integer)  # the version checked against
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    items_checked: Mapped[int | None] = mapped_column(Integer)
    items_wrong: Mapped[int | None] = mapped_column(Integer)
    # {item path: {"ok": bool, "found": what the checker found when wrong}}
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    spot_check: Mapped[SpotCheck] = relationship(back_populates="items")
    checker: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("spot_check_id", "position"),
        CheckConstraint("(checked_at IS NULL) = (items_checked IS NULL)", name="checked_when"),
        CheckConstraint("items_wrong IS NULL OR (items_wrong >= 0 AND items_wrong <= items_checked)",
                        name="wrong_within_checked"),
    )
