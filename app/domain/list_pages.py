"""What the clerk's list pages read (app/web/lists.py): the lists of the user's area, one
list, its problems a page at a time, the saved mappings of a source. Reads only; the import
itself, withdrawal and saving a mapping are app.domain.lists."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.domain import scope
from app.domain.errors import NotFound
from app.extensions import db
from app.models import ImportedList, ListMapping, ListProblem, User

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


def get_list(actor: User, list_id: int) -> ImportedList:
    """A list of the user's area; NotFound for one elsewhere, as for one that does not exist."""
    item = db.session.get(ImportedList, list_id)
    if item is None or not scope.can_at(actor, PERMISSION, item.unit_path):
        raise NotFound(str(_l("No such imported list.")))
    return item


def problems_page(item: ImportedList, *, page: int = 1, per_page: int = 50) -> Page:
    """A list's refused and flagged rows, by line: rows of (ListProblem,)."""
    where = ListProblem.list_id == item.id
    query = select(ListProblem).where(where).order_by(ListProblem.line, ListProblem.id)
    return _paged(query, select(func.count()).select_from(ListProblem).where(where), page, per_page)


def all_problems(item: ImportedList) -> list[ListProblem]:
    return list(db.session.scalars(select(ListProblem).where(ListProblem.list_id == item.id)
                                   .order_by(ListProblem.line, ListProblem.id)))


def saved_mappings(source: str) -> list[ListMapping]:
    """The mappings saved for a source, the last changed first (that one is proposed)."""
    return list(db.session.scalars(select(ListMapping).where(ListMapping.source == source)
                                   .order_by(ListMapping.updated_at.desc(), ListMapping.id.desc())))


def imported_before(actor: User, sha256: str, source: str) -> ImportedList | None:
    """The same file imported already in the user's area (not withdrawn): importing it again adds nothing."""
    return db.session.scalars(select(ImportedList).where(
        ImportedList.file_sha256 == sha256, ImportedList.source == source,
        ImportedList.state != "withdrawn", scope.scope_filter(actor, ImportedList.unit_path, PERMISSION))
        .order_by(ImportedList.id.desc())).first()
