"""Blueprints by user: auth, home, units, admin (later: collect, review, printing, reports)."""
from __future__ import annotations

from typing import Callable


def public(view: Callable) -> Callable:
    """Allow-list a view for visitors who are not logged in (everything else needs a login)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def writes_on_get(view: Callable) -> Callable:
    """Mark a GET view that writes (e.g. an audited scan): on SQLite its transaction takes the
    write lock at BEGIN like every POST (see app._sqlite_begin)."""
    view.writes_on_get = True  # type: ignore[attr-defined]
    return view


def client_address() -> str:
    from flask import request
    return (request.remote_addr or "unknown")[:64]


def label_language() -> str:
    """"zh" or "en": which text of the form definition's {zh, en} labels to show."""
    from flask_babel import get_locale
    return "zh" if get_locale().language == "zh" else "en"
