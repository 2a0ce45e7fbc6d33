"""Blueprints by user: auth, home, units, admin (later: collect, review, printing, reports)."""
from __future__ import annotations

import re
import uuid
from typing import Any, Callable


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


# ------------------------------------------------------------------ the access log (issue 15)

def shows_personal_data(object_type: str, id_arg: str | None = None) -> Callable[[Callable], Callable]:
    """Declare that a view shows personal data: each answer it gives (2xx) writes one access log
    entry, naming `object_type` and the path argument `id_arg` (a household's id), or, for a
    list, what the view adds with viewed(count=..., filters=...). tests/test_access_log.py
    fails for a GET route marked neither this way nor on its allow-list of routes that show none."""
    def decorate(view: Callable) -> Callable:
        view.shows_personal_data = (object_type, id_arg)  # type: ignore[attr-defined]
        return view
    return decorate


def viewed(*, object_id: Any = None, unit_path: str | None = None, **details: Any) -> None:
    """What the view showed, for its access entry: the object, where it lies, a list's count and filter."""
    from flask import g
    note = g.setdefault("access_note", {"details": {}})
    if object_id is not None:
        note["object_id"] = object_id
    if unit_path is not None:
        note["unit_path"] = unit_path
    note["details"].update({k: v for k, v in details.items() if v not in (None, "")})


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


def init_access_logging(app) -> None:
    from flask import g, request
    from flask_login import current_user

    from app import access_log

    access_log.init_app(app)

    @app.before_request
    def _request_id():
        # The proxy's request id when it sends one, so that entries match its log; else our own.
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex[:16]

    @app.after_request
    def _log_access(response):
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        mark = getattr(view, "shows_personal_data", None)
        if mark is None or not 200 <= response.status_code < 300:
            return response  # a redirect or a refusal showed nothing
        object_type, id_arg = mark
        note = g.get("access_note") or {"details": {}}
        object_id = note.get("object_id")
        if object_id is None and id_arg:
            object_id = (request.view_args or {}).get(id_arg)
        actor = current_user if current_user.is_authenticated else None
        unit_path = note.get("unit_path")
        if unit_path is None and actor is not None and actor.roles:
            unit_path = min(a.unit.path for a in actor.roles)  # a list across the user's area
        access_log.record(object_type, actor_id=actor.id if actor is not None else None, object_id=object_id,
                          unit_path=unit_path, details=note["details"])
        return response


# ------------------------------------------------------------------ file uploads larger than a form

def accepts_upload(setting: str) -> Callable[[Callable], Callable]:
    """Declare a POST view that takes a file larger than MAX_CONTENT_LENGTH (a list of a
    county's persons): its body may be up to app.config[setting] bytes. Every other route keeps
    the small limit, so that no other form is read into memory or a temporary file unbounded."""
    def decorate(view: Callable) -> Callable:
        view.upload_limit_setting = setting  # type: ignore[attr-defined]
        return view
    return decorate


def init_upload_limits(app) -> None:
    """Call before csrf.init_app: the CSRF check reads the form, and with it the whole body,
    under whatever limit the request has by then."""
    from flask import request

    @app.before_request
    def _upload_limit():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        setting = getattr(view, "upload_limit_setting", None)
        if setting and request.method == "POST":
            request.max_content_length = int(app.config.get(setting) or app.config["MAX_CONTENT_LENGTH"])
