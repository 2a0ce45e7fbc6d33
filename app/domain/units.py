"""Administrative units: adding them one at a time (bulk import: app.domain.units_import)."""
from __future__ import annotations

from sqlalchemy import select

from app.domain.tree import child_path
from app.extensions import db
from app.models import AdminUnit, UnitLevel


def get_or_create_unit(code: str, name: str, level: UnitLevel, parent: AdminUnit | None) -> AdminUnit:
    """The unit with `code`, created under `parent` if missing (idempotent)."""
    unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
    if unit is None:
        unit = AdminUnit(code=code, name=name, level=UnitLevel(level).value,
                         parent=parent, path=child_path(parent.path if parent else None, code))
        db.session.add(unit)
        db.session.flush()
    return unit


def unit_by_code(code: str) -> AdminUnit | None:
    return db.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
