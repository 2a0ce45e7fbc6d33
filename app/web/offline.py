"""The phone app offline (issue 6): the service worker, the web app manifest, and what the
offline scripts in static/pwa/ need from the server.

The collector's pages stay server-rendered; the service worker keeps a copy of the shell
(static files, the form pages) so that they open without a network, and the scripts keep
drafts, the outbox and the households of the collector's units in IndexedDB and talk to the
sync API (/api/v1, docs/SYNC-API.md). The worker is served from the site root because a
worker only controls pages under its own path; neither it nor the manifest carries personal
data, so both are public.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.models import Role
from app.web import public

bp = Blueprint("offline", __name__)

STATIC = Path(__file__).resolve().parent.parent / "static"
# The app shell: what the collector's pages load. The worker caches these at install; a new
# version of any of them gives the worker a new version (below), which replaces the cache.
SHELL = ("app.css", "collect.css", "review.css", "collect.js", "signature.js",
         "pwa/offline.js", "pwa/store.js", "pwa/sync.js", "pwa/status.js", "pwa/form.js",
         "pwa/households.js", "pwa/checks.js", "pwa/links.js", "pwa/offline.css", "pwa/icon.svg")


@lru_cache(maxsize=1)
def _shell_version(root: str) -> str:
    """A hash of the shell's files and of the worker itself, read once per process."""
    digest = hashlib.sha256()
    for name in (*SHELL, "pwa/sw.js"):
        digest.update(name.encode())
        digest.update((Path(root) / name).read_bytes())
    return digest.hexdigest()[:16]


@bp.route("/sw.js")
@public
def service_worker() -> Response:
    """The worker, with its version and the shell's URLs filled in. Never cached by the
    browser's HTTP cache, so that a new version is found on the next visit."""
    version = _shell_version(str(STATIC))
    urls = [url_for("static", filename=name) for name in SHELL] + [url_for(".manifest")]
    source = (STATIC / "pwa" / "sw.js").read_text(encoding="utf-8")
    source = source.replace('"__VERSION__"', f'"{version}"').replace('["__SHELL__"]', json.dumps(urls))
    resp = Response(source, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/manifest.webmanifest")
@public
def manifest() -> Response:
    resp = jsonify({
        "name": _("Doorstep"),
        "short_name": _("Doorstep"),
        "start_url": url_for("collect.index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f5f7",
        "theme_color": "#b3261e",
        "icons": [{"src": url_for("static", filename="pwa/icon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    })
    resp.mimetype = "application/manifest+json"
    resp.headers["Cache-Control"] = "no-cache"  # its names follow the language: revalidated each time
    return resp


@bp.route("/offline/session")
def session_state():
    """Who is logged in and a fresh CSRF token, read by the sync script before it sends the
    outbox: a page opened from the phone's cache may carry the token of an older session."""
    resp = jsonify(user_id=current_user.id, csrf_token=generate_csrf())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_context_processor
def _offline_context() -> dict[str, Any]:
    """The status bar goes on every page of a collector (base.html includes it)."""
    show = bool(current_user and current_user.is_authenticated
                and any(a.role == Role.collector.value for a in current_user.roles))
    return {"offline_bar": show, "offline_i18n": _i18n if show else None}


def _i18n() -> dict[str, str]:
    """The texts the offline scripts show, translated here; {name} marks a value."""
    return {
        "online": _("Online"), "offline": _("Offline"),
        "waiting": _("Waiting to be sent: %(n)s", n="{n}"), "nothing_waiting": _("Nothing waiting"),
        "attention": _("Need your attention: %(n)s", n="{n}"),
        "last_sync": _("Last sync %(time)s", time="{time}"),
        "never_synced": _("Not synced yet"), "sync_now": _("Sync now"), "syncing": _("Syncing…"),
        "dismiss": _("Dismiss"), "open": _("Open"),
        "needs_network": _("needs the network"),
        "conflict": _("Conflict: someone else changed this household meanwhile; the village leader will "
                      "resolve it."),
        "invalid": _("Refused as invalid: %(message)s", message="{message}"),
        "reused": _("Refused: this submission was already sent with other contents."),
        "refused": _("Refused: %(message)s", message="{message}"),
        "login": _("Log in again to send what is waiting."),
        "kept": _("You are offline: the draft is kept on this phone."),
        "restored": _("Restored from the draft kept on this phone."), "discard": _("Discard the draft"),
        "queued": _("Signed and put in the outbox; it is sent as soon as there is a network."),
        "sign_first": _("Please sign."),
        "fix_first": _("Correct the fields marked in red first."),
        "required": _("%(label)s is required", label="{label}"),
        "bad_code": _("%(label)s: choose a value from the list", label="{label}"),
        "bad_date": _("%(label)s is not a date", label="{label}"),
        "future_date": _("%(label)s lies in the future", label="{label}"),
        "early_date": _("%(label)s lies before 1900", label="{label}"),
        "edit_title": _("Edit card %(card)s", card="{card}"),
        "no_head": _("(no head yet)"),
        "on_phone": _("Households on this phone"), "search": _("Search"),
        "search_help": _("Card no., name, last 4 ID digits"),
        "none_found": _("No households found."),
        "draft": _("draft on this phone"), "in_outbox": _("in the outbox"),
        "waiting_send": _("This household has a submission waiting to be sent; what you submit now is sent "
                          "after it."),
        "logout_unsent": _("%(n)s submissions are not yet accepted by the server. They stay on this phone and "
                           "are shown again, and sent, when you log in again.", n="{n}"),
        "logout_drafts": _("%(n)s unsigned drafts are deleted from this phone.", n="{n}"),
        "logout_anyway": _("Log out anyway?"),
    }

