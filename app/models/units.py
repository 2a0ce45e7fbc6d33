"""Administrative units (行政区划): the tree every record and every permission hangs on."""
from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, PathString


class UnitLevel(str, enum.Enum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"
    group = "group"  # 村民小组: below the NBS tree, created locally

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(self) + 1


LEVEL_ORDER = list(UnitLevel)


class AdminUnit(Base):
    __tablename__ = "admin_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 12-digit statistical code (统计用区划代码); groups extend their village's code by 3 digits.
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    # Materialised path: the ancestors' codes and the unit's own, each followed by '/'.
    # Everything under a unit is the range [path, path[:-1] + '0'), one index scan.
    path: Mapped[str] = mapped_column(PathString, unique=True)

    parent: Mapped[AdminUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[AdminUnit]] = relationship(back_populates="parent", order_by="AdminUnit.code")

    __table_args__ = (
        CheckConstraint(
            "level IN ('province','city','county','township','village','group')", name="level"
        ),
        Index("ix_admin_unit_level_parent", "level", "parent_id"),
    )

    @property
    def unit_level(self) -> UnitLevel:
        return UnitLevel(self.level)

    def __repr__(self) -> str:
        return f"<AdminUnit {self.code} {self.name}>"
