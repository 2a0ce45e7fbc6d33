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
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.domain.errors import Invalid
from app.extensions import db
from app.models import HouseholdVersion, Role, Signature, User, WorkflowAction, WorkflowEvent, utcnow

BOX_WIDTH, BOX_HEIGHT = 1000, 400
MAX_STROKES, MAX_POINTS = 50, 2000  # per signature, per stroke
# A signature is at least two lines, or one line of MIN_POINTS points; and in all, at least
# MIN_LENGTH units of ink (15% of the box's width), so a dot or a tiny scribble is refused.
MIN_LENGTH, MIN_POINTS = 150, 10
# The JSON of the largest accepted signature, with room for long decimals; longer is refused unread.
MAX_JSON_CHARS = MAX_STROKES * MAX_POINTS * 40
# Rendering drops a point within this distance of the line through its neighbours.
SIMPLIFY_UNITS = 0.8
MAX_RUN = 24

Point = tuple[int, int]
Strokes = list[list[Point]]

FIELD = "signature"


def parse_strokes(raw: str | list[Any] | None) -> Strokes:
    """The strokes clamped into the box and rounded to whole units.

    Invalid (422) when the input is not a list of strokes of [x, y] points, when it is larger
    than MAX_STROKES × MAX_POINTS, or when it is not a signature (empty, a dot, a scribble).
    """
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
    strokes: Strokes = []
    for stroke in raw:
        if not isinstance(stroke, list):
            raise _unreadable()
        if len(stroke) > MAX_POINTS:
            raise _too_big()
        points: list[Point] = []
        for point in stroke:
            p = _point(point)
            if not points or points[-1] != p:  # a finger resting on one spot adds nothing
                points.append(p)
        if points:
            strokes.append(points)
    if not is_signature(strokes):
        raise Invalid(_("Please sign."), field=FIELD)
    return strokes


def is_signature(strokes: Strokes) -> bool:
    lines = [s for s in strokes if len(s) >= 2]
    ink = sum(_length(s) for s in lines)
    enough_lines = len(lines) >= 2 or any(len(s) >= MIN_POINTS for s in lines)
    return enough_lines and ink >= MIN_LENGTH


def render_svg(strokes: Strokes) -> str:
    """A compact SVG: one <path> per stroke, whole-unit coordinates, relative moves after the
    first point. Only integers go into it, so it is safe to put into a page as it is."""
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
    """A signature of `signer` as `role` on the version's content (flushed, not committed)."""
    signature = Signature(version_id=version.id, signer_id=signer.id, role=Role(role).value,
                          content_hash=version.content_hash, strokes_svg=render_svg(strokes),
                          signed_at=utcnow())
    db.session.add(signature)
    db.session.flush()
    return signature


def signature_counts(signature: Signature, version: HouseholdVersion) -> bool:
    """A signature counts only for the content it signed."""
    return signature.content_hash == version.content_hash


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
    return Invalid(_("The signature is too large: at most %(strokes)d strokes of %(points)d points.",
                     strokes=MAX_STROKES, points=MAX_POINTS), field=FIELD)


def _unreadable() -> Invalid:
    return Invalid(_("The signature could not be read. Please sign again."), field=FIELD)
