"""Signatures drawn with a finger: check the strokes, render them as a small SVG, and say
which signatures count for a household version.

The phone sends the strokes as JSON, `[[[x, y], [x, y], ...], ...]`: a list of strokes, each
a list of points in a 1000 × 400 box. A signature signs the content hash of one version; it
counts only for that content (DESIGN.md §5), so a later change of the household leaves it in
the history without it counting for the new version.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.domain.errors import Conflict, Invalid
from app.domain.registration import content_hash
from app.extensions import db
from app.models import AuditEntry, HouseholdVersion, Role, Signature, User, WorkflowAction, WorkflowEvent, utcnow

BOX_WIDTH, BOX_HEIGHT = 1000, 400
MAX_STROKES, MAX_POINTS = 50, 2000  # per signature, per stroke
# And in all (issue 15): 50 × 2,000 points took 3.6 s to read and draw. A name signed slowly
# with a fast phone's coalesced touch events is some 2,000 points; 10,000 are read and drawn
# in a fraction of a second, always before any lock (parse_strokes draws the SVG too).
MAX_TOTAL_POINTS = 10_000
# A signature is at least two lines, or one line of MIN_POINTS points; and in all, at least
# MIN_LENGTH units of ink (15% of the box's width), so a dot or a tiny scribble is refused.
MIN_LENGTH, MIN_POINTS = 150, 10
# The JSON of the largest accepted signature, with room for long decimals; longer is refused unread.
MAX_JSON_CHARS = MAX_TOTAL_POINTS * 40 + MAX_STROKES * 4
# Rendering drops a point within this distance of the line through its neighbours.
SIMPLIFY_UNITS = 0.8
MAX_RUN = 24

Point = tuple[int, int]


class Strokes(list):
    """The strokes read by parse_strokes: a list of strokes of (x, y) points (as JSON, a
    list), which also carries its SVG, drawn at once so that no lock is held while drawing."""

    svg: str | None = None

FIELD = "signature"


def parse_strokes(raw: str | list[Any] | None) -> Strokes:
    """The strokes clamped into the box and rounded to whole units.

    Invalid (422) when the input is not a list of strokes of [x, y] points, when it is larger
    than MAX_STROKES × MAX_POINTS or MAX_TOTAL_POINTS (counted before any point is read), or
    when it is not a signature (empty, a dot, a scribble). The SVG is drawn here as well
    (`.svg`): call this before any lock, as every caller does.
    """
    if isinstance(raw, Strokes) and raw.svg is not None:
        return raw  # read and drawn already (the sync API reads them before any lock)
    if raw is None or raw == "" or raw == []:
        raise Invalid(_("Please sign."), field=FIELD)
    if isinstance(raw, str):
        if len(raw) > MAX_JSON_CHARS:
            raise _too_big()
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            raise _unreadable() from None
    if not isinstance(raw, list):
        raise _unreadable()
    if len(raw) > MAX_STROKES:
        raise _too_big()
    total = 0
    for stroke in raw:
        if not isinstance(stroke, list):
            raise _unreadable()
        if len(stroke) > MAX_POINTS:
            raise _too_big()
        total += len(stroke)
    if total > MAX_TOTAL_POINTS:
        raise _too_big()
    strokes = Strokes()
    for stroke in raw:
        points: list[Point] = []
        for point in stroke:
            p = _point(point)
            if not points or points[-1] != p:  # a finger resting on one spot adds nothing
                points.append(p)
        if points:
            strokes.append(points)
    if not is_signature(strokes):
        raise Invalid(_("Please sign."), field=FIELD)
    strokes.svg = _draw(strokes)
    return strokes


def is_signature(strokes: Strokes) -> bool:
    lines = [s for s in strokes if len(s) >= 2]
    ink = sum(_length(s) for s in lines)
    enough_lines = len(lines) >= 2 or any(len(s) >= MIN_POINTS for s in lines)
    return enough_lines and ink >= MIN_LENGTH


def render_svg(strokes: list[list[Point]]) -> str:
    """A compact SVG: one <path> per stroke, whole-unit coordinates, relative moves after the
    first point. Only integers go into it, so it is safe to put into a page as it is. The
    strokes of parse_strokes come with it drawn already."""
    svg = getattr(strokes, "svg", None)
    return svg if svg is not None else _draw(strokes)


def _draw(strokes: list[list[Point]]) -> str:
    paths = []
    for stroke in strokes:
        points = _simplify(stroke)
        x0, y0 = points[0]
        if len(points) == 1:  # a dot: a zero-length line drawn with round caps
            d = f"M{x0} {y0}l0 0"
        else:
            moves = " ".join(f"{x - px} {y - py}" for (px, py), (x, y) in zip(points, points[1:]))
            d = f"M{x0} {y0}l{moves}"
        paths.append(f'<path d="{d}"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {BOX_WIDTH} {BOX_HEIGHT}" '
            'fill="none" stroke="#000" stroke-width="6" stroke-linecap="round" stroke-linejoin="round">'
            + "".join(paths) + "</svg>")


def sign(version: HouseholdVersion, signer: User, role: Role, strokes: Strokes) -> Signature:
    """A signature of `signer` as `role` on the version's content (flushed, not committed).
    Refused when the version's data no longer has its content hash."""
    require_intact(version)
    signature = Signature(version_id=version.id, signer_id=signer.id, role=Role(role).value,
                          content_hash=version.content_hash, strokes_svg=render_svg(strokes),
                          signed_at=utcnow())
    db.session.add(signature)
    db.session.flush()
    return signature


def signature_counts(signature: Signature, version: HouseholdVersion) -> bool:
    """A signature counts only for the content it signed."""
    return signature.content_hash == version.content_hash


def intact(version: HouseholdVersion) -> bool:
    """The version's data still has the content hash it was saved with: the stored column is
    what signatures sign, so data changed behind the application's back must not pass under it."""
    return content_hash(version.data) == version.content_hash


def require_intact(version: HouseholdVersion) -> None:
    """Conflict (409) when the version's data was changed after it was saved (signing and
    printing refuse it; `flask audit verify` reports it)."""
    if not intact(version):
        raise Conflict(_("Version %(n)d of household %(card_no)s was changed in the database after it was "
                         "saved: its data no longer matches its content hash. It cannot be signed or printed; "
                         "tell the system administrator.", n=version.number, card_no=version.household.card_no))


# Audit entries that record a version's content hash (app.domain.registration) and a
# signature's (app.domain.workflow): written in the keyed chain, so they stand when the
# tables' rows are rewritten together with their hashes.
_VERSION_ACTIONS = ("household.create", "household.edit", "household.event")
_SIGNING_ACTIONS = ("household.submit", "household.confirm", "household.verify")


@dataclass
class ContentReport:
    versions: int = 0
    signatures: int = 0
    # How many of them the audit chain records a hash for (older versions were recorded without).
    versions_in_chain: int = 0
    signatures_in_chain: int = 0
    problems: list[str] = field(default_factory=list)
    more: int = 0  # problems beyond those listed

    @property
    def ok(self) -> bool:
        return not self.problems


def _hashes_in_chain() -> tuple[dict[tuple[str, int], str], dict[int, str]]:
    """{(household id, version number): hash} and {signature id: hash} as the audit log recorded them."""
    versions: dict[tuple[str, int], str] = {}
    signed: dict[int, str] = {}
    rows = db.session.execute(select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
                              .where(AuditEntry.action.in_(_VERSION_ACTIONS + _SIGNING_ACTIONS))
                              .order_by(AuditEntry.id).execution_options(yield_per=1000))
    for action, object_id, details in rows:
        recorded = (details or {}).get("content_hash")
        if not recorded:
            continue
        if action in _VERSION_ACTIONS and details.get("version") is not None:
            versions[(str(object_id), int(details["version"]))] = recorded
        elif action in _SIGNING_ACTIONS and details.get("signature_id") is not None:
            signed[int(details["signature_id"])] = recorded
    return versions, signed


def check_content(limit: int = 50) -> ContentReport:
    """Recompute every version's content hash from its data, check that every signature signs
    its version's hash, and that both are the hashes the audit log recorded when the version
    was saved and signed (run it after the chain verified). At most `limit` problems are
    listed, the rest counted."""
    report = ContentReport()
    in_chain, signed_in_chain = _hashes_in_chain()

    def problem(text: str) -> None:
        if len(report.problems) < limit:
            report.problems.append(text)
        else:
            report.more += 1

    rows = db.session.execute(select(HouseholdVersion.id, HouseholdVersion.household_id, HouseholdVersion.number,
                                     HouseholdVersion.data, HouseholdVersion.content_hash)
                              .order_by(HouseholdVersion.id).execution_options(yield_per=500))
    for row in rows:
        report.versions += 1
        if content_hash(row.data) != row.content_hash:
            problem(f"version {row.id} (household {row.household_id}, number {row.number}): its data does not "
                    "match its content hash")
        recorded = in_chain.get((str(row.household_id), row.number))
        if recorded is not None:
            report.versions_in_chain += 1
            if recorded != row.content_hash:
                problem(f"version {row.id} (household {row.household_id}, number {row.number}): its content "
                        "hash is not the one the audit log recorded when it was saved")
    rows = db.session.execute(select(Signature.id, Signature.version_id, Signature.content_hash,
                                     HouseholdVersion.content_hash.label("version_hash"))
                              .join(HouseholdVersion, Signature.version_id == HouseholdVersion.id)
                              .order_by(Signature.id).execution_options(yield_per=1000))
    for row in rows:
        report.signatures += 1
        if row.content_hash != row.version_hash:
            problem(f"signature {row.id} signs a content hash other than its version {row.version_id}'s")
        recorded = signed_in_chain.get(row.id)
        if recorded is not None:
            report.signatures_in_chain += 1
            if recorded != row.content_hash:
                problem(f"signature {row.id}: its content hash is not the one the audit log recorded when "
                        "it was signed")
    return report


def signatures_for(version: HouseholdVersion) -> dict[str, Signature]:
    """The signatures that count for `version`, by role: those of its current round. A return
    ends a round: the version must be signed again at every level after it."""
    events = db.session.scalars(
        select(WorkflowEvent).where(WorkflowEvent.version_id == version.id)
        .options(selectinload(WorkflowEvent.signature)).order_by(WorkflowEvent.id))
    counting: dict[str, Signature] = {}
    for event in events:
        if event.action == WorkflowAction.return_.value:
            counting.clear()
        elif event.signature is not None and signature_counts(event.signature, version):
            counting[event.signature.role] = event.signature
    return counting


# ------------------------------------------------------------------ helpers


def _point(point: Any) -> Point:
    if not isinstance(point, (list, tuple)) or len(point) != 2:
        raise _unreadable()
    x, y = point
    for v in (x, y):
        # bool is an int in Python; NaN and infinity are not places in the box
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _unreadable()
    return min(max(round(x), 0), BOX_WIDTH), min(max(round(y), 0), BOX_HEIGHT)


def _length(points: list[Point]) -> float:
    return sum(math.dist(a, b) for a, b in zip(points, points[1:]))


def _simplify(points: list[Point]) -> list[Point]:
    """Drop points that lie within SIMPLIFY_UNITS of the line drawn instead of them: a
    finger's samples along a smooth part add bytes but no shape. Each point dropped since the
    last kept one is checked against the new line, so a gentle curve is not flattened; a run
    of dropped points is cut at MAX_RUN to keep the work linear."""
    if len(points) < 3:
        return points
    kept = [points[0]]
    last = 0  # index of the last kept point
    for i in range(1, len(points) - 1):
        after = points[i + 1]
        if i - last > MAX_RUN or any(_distance_to_line(p, kept[-1], after) > SIMPLIFY_UNITS
                                     for p in points[last + 1:i + 1]):
            kept.append(points[i])
            last = i
    kept.append(points[-1])
    return kept


def _distance_to_line(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    norm = math.hypot(dx, dy)
    if norm == 0:
        return math.dist(p, a)
    # beyond either end of the segment, the distance to that end (keeps turning points)
    t = ((px - ax) * dx + (py - ay) * dy) / (norm * norm)
    if t <= 0:
        return math.dist(p, a)
    if t >= 1:
        return math.dist(p, b)
    return abs(dy * (px - ax) - dx * (py - ay)) / norm


def _too_big() -> Invalid:
    return Invalid(_("The signature is too large: at most %(strokes)d strokes of %(points)d points, "
                     "%(total)d points in all. Clear the pad and sign again.",
                     strokes=MAX_STROKES, points=MAX_POINTS, total=MAX_TOTAL_POINTS), field=FIELD)


def _unreadable() -> Invalid:
    return Invalid(_("The signature could not be read. Please sign again."), field=FIELD)
