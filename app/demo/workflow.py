"""The demo households in a realistic mix of approval states (issue 4).

After `flask demo` has registered its households as each village's collector, this step moves
them along the approval chain through app.domain.workflow, as the screens do: the village's
collector submits, the village's leader confirms or returns, the township's verifier
verifies or returns. Each level is a different person (一机两员), and each signs with a drawn
signature: a squiggle made from the signer's username, slightly different on every card, as
a hand is.

The mix (PLAN_BLOCK, per 50 households, shuffled by the seed): about 70 % verified, 8 %
confirmed (waiting for the verifier), 8 % submitted (waiting for the village leader), 4 %
returned (with reasons), 10 % left as drafts. A household with blocking errors (a deliberate
problem of demo_households) cannot be submitted: it stays a draft, whatever its plan.

Idempotent by state: only the demo's own households (found by their demo submission ids)
that are still at version 1, in draft and without any workflow event are moved. A rerun, or
a run after people started working, moves nothing that was already touched.
"""
from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select

from app.domain import workflow
from app.demo.households import submission_id
from app.demo.progress import Progress, no_progress
from app.domain.tree import in_subtree
from app.extensions import db
from app.models import AdminUnit, Household, HouseholdState, HouseholdVersion, User, WorkflowEvent

# Where each demo household ends, by plan. Both kinds of return exist: by the village leader
# (from submitted) and by the verifier (from confirmed).
VERIFIED, CONFIRMED, SUBMITTED, DRAFT = "verified", "confirmed", "submitted", "draft"
RETURNED_BY_LEADER, RETURNED_BY_VERIFIER = "returned_by_leader", "returned_by_verifier"
PLAN_BLOCK: dict[str, int] = {VERIFIED: 35, CONFIRMED: 4, SUBMITTED: 4, RETURNED_BY_LEADER: 1,
                              RETURNED_BY_VERIFIER: 1, DRAFT: 5}
BLOCK = sum(PLAN_BLOCK.values())  # 50

# What a village leader or a verifier writes when returning a card: reason codes of
# workflow.RETURN_REASONS and the free text, as typed (data, in the village's language).
RETURNS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("wrong_id_number",), "户主身份证号码与户口簿不一致，请入户核对后更正。"),
    (("missing_member",), "户内在外务工的成员没有登记，请补录。"),
    (("address_unclear",), "门牌号与实际住址不符，请到现场核实。"),
    (("wrong_relationship",), "与户主关系填写有误，儿媳填成了女儿。"),
    (("missing_member", "wrong_relationship"), "漏登了户主的母亲，且长孙的关系填错。"),
    (("other",), "联系电话为空号，请重新核实联系方式。"),
)


@dataclass
class WorkflowReport:
    moved: int = 0  # households moved along the chain by this run
    transitions: int = 0  # events written (submit, confirm, verify, return)
    stuck: int = 0  # planned for the chain but kept as drafts: blocking errors
    states: dict[str, int] = field(default_factory=dict)  # demo households by state, after the run
    seconds: float = 0.0


# ------------------------------------------------------------------ pure parts


def plan_states(count: int, seed: int) -> list[str]:
    """Where each of `count` demo households (by index) should end: PLAN_BLOCK per 50, in an
    order shuffled by the seed, so that even a small demo has every state."""
    plans: list[str] = []
    for block in range(-(-count // BLOCK)):
        items = [plan for plan, n in PLAN_BLOCK.items() for _ in range(n)]
        random.Random(f"{seed}:plan:{block}").shuffle(items)
        plans += items
    return plans[:count]


def squiggle(signer: str, variant: int) -> list[list[list[int]]]:
    """A plausible drawn signature in the 1000 × 400 box of app.domain.signatures: two looping
    strokes (surname, given name) and, for some signers, an underline. The shape comes from
    the signer's username; `variant` moves each point by a few units, as a hand does."""
    shape = random.Random(f"signature:{signer}")
    hand = random.Random(f"signature:{signer}:{variant}")
    strokes = []
    x0 = shape.randint(80, 160)
    for width, loops in ((shape.randint(220, 300), shape.randint(2, 3)),
                         (shape.randint(280, 380), shape.randint(3, 4))):
        cy = shape.randint(170, 230)
        amp_x, amp_y, tilt = shape.randint(28, 40), shape.randint(55, 85), shape.uniform(-0.15, 0.15)
        n = 12 * loops + 6
        stroke = []
        for i in range(n):
            t = i / (n - 1)
            angle = 2 * math.pi * loops * t
            # A prolate cycloid: the pen runs on while it turns, so it draws loops (cursive).
            x = x0 + width * t + amp_x * math.sin(angle)
            y = cy + amp_y * math.cos(angle) * (1 - 0.3 * t) + tilt * width * t
            stroke.append([_clamp(x + hand.uniform(-3, 3), 1000), _clamp(y + hand.uniform(-3, 3), 400)])
        strokes.append(stroke)
        x0 += width + shape.randint(30, 70)
    if shape.random() < 0.6:
        y = shape.randint(310, 350)
        end = min(x0, 960)
        strokes.append([[_clamp(90 + (end - 90) * i / 11 + hand.uniform(-2, 2), 1000),
                         _clamp(y - 25 * math.sin(math.pi * i / 11) + hand.uniform(-2, 2), 400)]
                        for i in range(12)])
    return strokes


def _clamp(v: float, top: int) -> int:
    return min(max(round(v), 0), top)


# ------------------------------------------------------------------ moving the households


@dataclass(frozen=True)
class Signers:
    collectors: dict[str, User]  # by village code
    leaders: dict[str, User]  # by village code
    verifier: User


def move_households(township: AdminUnit, signers: Signers, *, seed: int,
                    progress: Progress = no_progress) -> WorkflowReport:
    """Move the township's untouched demo households along the chain to their planned state
    (flushed, not committed). See the module's docstring for which households are moved."""
    started = time.perf_counter()
    report = WorkflowReport()
    total = db.session.scalar(select(func.count()).select_from(Household)
                              .where(in_subtree(Household.unit_path, township.path))) or 0
    # Demo households were made with indexes 0..count-1 while the township had none, so the
    # township's count bounds the indexes.
    index_of: dict[uuid.UUID, int] = {submission_id(seed, i): i for i in range(total)}
    plans = plan_states(total, seed)
    untouched = db.session.execute(
        select(Household, HouseholdVersion.submission_id)
        .join(HouseholdVersion, HouseholdVersion.id == Household.current_version_id)
        .where(in_subtree(Household.unit_path, township.path),
               Household.state == HouseholdState.draft.value, Household.current_number == 1,
               ~exists().where(WorkflowEvent.household_id == Household.id))).all()
    chosen = sorted(((index_of[sid], h) for h, sid in untouched if sid in index_of), key=lambda ih: ih[0])
    for n, (index, household) in enumerate(chosen):
        progress("chain", n, len(chosen))
        plan = plans[index]
        if plan == DRAFT:
            continue
        if not household.complete:
            report.stuck += 1
            continue
        report.transitions += _move(household, plan, signers, index, seed)
        report.moved += 1
    progress("chain", len(chosen), len(chosen))
    report.states = _states(township, index_of)
    report.seconds = time.perf_counter() - started
    return report


def _move(household: Household, plan: str, s: Signers, index: int, seed: int) -> int:
    """Take one household from draft to its plan; the number of transitions made."""
    village = household.village.code
    collector, leader = s.collectors[village], s.leaders[village]
    steps = [("submit", collector)]
    if plan in (CONFIRMED, VERIFIED, RETURNED_BY_VERIFIER):
        steps.append(("confirm", leader))
    if plan == VERIFIED:
        steps.append(("verify", s.verifier))
    if plan in (RETURNED_BY_LEADER, RETURNED_BY_VERIFIER):
        steps.append(("return", leader if plan == RETURNED_BY_LEADER else s.verifier))
    for action, user in steps:
        if action == "return":
            codes, text = random.Random(f"{seed}:return:{index}").choice(RETURNS)
            workflow.return_household(user, household.id, version_number=1, reason_codes=codes,
                                      reason_text=text)
        else:
            workflow.transition(user, household.id, action, version_number=1,
                                strokes=squiggle(user.username, index))
    return len(steps)


def _states(township: AdminUnit, index_of: dict[uuid.UUID, int]) -> dict[str, int]:
    """The demo households of the township by state (households made by people not counted)."""
    rows = db.session.execute(
        select(Household.state, HouseholdVersion.submission_id)
        .join(HouseholdVersion,
              (HouseholdVersion.household_id == Household.id) & (HouseholdVersion.number == 1))
        .where(in_subtree(Household.unit_path, township.path))).all()
    counts = Counter(state for state, sid in rows if sid in index_of)
    return {s.value: counts[s.value] for s in HouseholdState if counts[s.value]}
