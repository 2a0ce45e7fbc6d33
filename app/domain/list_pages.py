"""What the clerk's list pages read (app/web/lists.py): the lists of the user's area, one
list, its problems a page at a time, the saved mappings of a source. Reads only; the import
itself, withdrawal and saving a mapping are app.domain.lists."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.domain import scope
from app.extensions import db
from app.models import AdminUnit, ImportedList, ListMapping, ListProblem, ListRecord, ListState, User

PERMISSION = "list.import"
PER_PAGE = 30


@dataclass
class Page:
    rows: list[Any]
    total: int
    page: int
    pages: int


def _paged(query, count_query, page: int, per_page: int) -> Page:
    total = db.session.scalar(count_query) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = list(db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all())
    return Page(rows, total, page, pages)


def may_import(actor: User) -> bool:
    return bool(scope.scope_paths(actor, PERMISSION))


def lists_in_area(actor: User, *, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The lists imported in the user's area, newest first: rows of (ImportedList, importer's name)."""
    where = scope.scope_filter(actor, ImportedList.unit_path, PERMISSION)
    query = (select(ImportedList, User.name).outerjoin(User, User.id == ImportedList.created_by_id)
             .where(where).order_by(ImportedList.created_at.desc(), ImportedList.id.desc()))
    return _paged(query, select(func.count()).select_from(ImportedList).where(where), page, per_page)


def problems_page(item: ImportedList, *, page: int = 1, per_page: int = 50) -> Page:
    """A list's refused and flagged rows, by line: rows of (ListProblem,)."""
    where = ListProblem.list_id == item.id
    query = select(ListProblem).where(where).order_by(ListProblem.line, ListProblem.id)
    return _paged(query, select(func.count()).select_from(ListProblem).where(where), page, per_page)


def records_page(item: ImportedList, *, page: int = 1, per_page: int = 50) -> Page:
    """A list's records as kept, by line: rows of (ListRecord, village name or None)."""
    where = ListRecord.list_id == item.id
    query = (select(ListRecord, AdminUnit.name).outerjoin(AdminUnit, AdminUnit.id == ListRecord.village_id)
             .where(where).order_by(ListRecord.line))
    return _paged(query, select(func.count()).select_from(ListRecord).where(where), page, per_page)


def saved_mappings(source: str) -> list[ListMapping]:
    """The mappings saved for a source, the last changed first (that one is proposed)."""
    return list(db.session.scalars(select(ListMapping).where(ListMapping.source == source)
                                   .order_by(ListMapping.updated_at.desc(), ListMapping.id.desc())))


def imported_before(sha256: str, source: str) -> int | None:
    """The list the same file of the same source made, in any area (it counts once)."""
    return db.session.scalar(select(ImportedList.id).where(
        ImportedList.file_sha256 == sha256, ImportedList.source == source, ImportedList.state == ListState.loaded.value))
