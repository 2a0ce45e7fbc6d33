"""Administrative units: adding them one at a time (bulk import: app.domain.units_import)."""
from __future__ import annotations

from sqlalchemy import bindparam, select

from app.domain.tree import child_path
from app.extensions import db
from app.models import AdminUnit, UnitLevel


# Built once: a household save looks a group up by its code, and building a statement costs
# more than sending it (bench/instructions.py).
_BY_CODE = select(AdminUnit).where(AdminUnit.code == bindparam("code"))


def get_or_create_unit(code: str, name: str, level: UnitLevel, parent: AdminUnit | None) -> AdminUnit:
    """The unit with `code`, created under `parent` if missing (idempotent)."""
    unit = unit_by_code(code)
    if unit is None:
        unit = AdminUnit(code=code, name=name, level=UnitLevel(level).value,
                         parent=parent, path=child_path(parent.path if parent else None, code))
        db.session.add(unit)
        db.session.flush()
    return unit


def unit_by_code(code: str) -> AdminUnit | None:
    return db.session.scalar(_BY_CODE, {"code": code})
