"""Materialised paths of the unit tree."""
from __future__ import annotations

from sqlalchemy import and_, false, or_
from sqlalchemy.sql import ColumnElement


def child_path(parent_path: str | None, code: str) -> str:
    return (parent_path or "") + code + "/"


def subtree_bounds(path: str) -> tuple[str, str]:
    """[low, high) holding exactly the paths that start with `path` (which ends in '/')."""
    # '0' is the byte after '/', so path[:-1] + '0' is the first string past the subtree.
    return path, path[:-1] + "0"


def in_subtree(column, path: str) -> ColumnElement[bool]:
    low, high = subtree_bounds(path)
    return and_(column >= low, column < high)


def in_any_subtree(column, paths: list[str]) -> ColumnElement[bool]:
    """Rows under any of `paths`; nested paths are dropped so the query stays small."""
    roots = minimal_roots(paths)
    if not roots:
        return false()
    return or_(*(in_subtree(column, p) for p in roots))


def minimal_roots(paths: list[str]) -> list[str]:
    roots: list[str] = []
    for p in sorted(set(paths)):
        if not roots or not p.startswith(roots[-1]):
            roots.append(p)
    return roots


def is_within(path: str, ancestor_path: str) -> bool:
    return path.startswith(ancestor_path)
