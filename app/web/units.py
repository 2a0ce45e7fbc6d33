"""Browsing the administrative units of one's own area."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from app.domain import scope
from app.extensions import db
from app.models import AdminUnit

bp = Blueprint("units", __name__, url_prefix="/units")


@bp.route("/")
def index():
    return render_template("units/index.html", units=scope.top_units(current_user))


@bp.route("/<int:unit_id>")
def show(unit_id: int):
    unit = scope.require_unit(current_user, unit_id)
    children = db.session.scalars(
        select(AdminUnit).where(AdminUnit.parent_id == unit.id).order_by(AdminUnit.code)).all()
    ancestors = [a for a in _ancestors(unit) if scope.can(current_user, "unit.view", a)]
    return render_template("units/show.html", unit=unit, children=children, ancestors=ancestors)


def _ancestors(unit: AdminUnit) -> list[AdminUnit]:
    codes = [c for c in unit.path.strip("/").split("/")[:-1]]
    if not codes:
        return []
    found = {u.code: u for u in db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(codes)))}
    return [found[c] for c in codes if c in found]
