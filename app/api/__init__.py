"""The sync API for the phone app, under /api/v1 (docs/SYNC-API.md).

Who is asking: the web session (the same login as the pages; POSTs carry X-CSRFToken) or,
for an installed app, `Authorization: Bearer <device token>` (no CSRF: a token is not sent
by a browser on its own). A bearer header decides alone: an unknown or revoked token is 401
E1001 even beside a valid cookie. The OpenAPI document is served at /api/v1/openapi.json.
"""
from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_smorest import Api
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.api.errors import ApiError, answer, from_domain, from_marshmallow
from app.api.schemas import ApiErrorSchema
from app.domain import devices
from app.domain.errors import DomainError
from app.extensions import csrf, db, login_manager

PREFIX = "/api/v1"


class SyncApi(Api):
    """flask-smorest's Api without its app-wide HTTPException handler: the web pages keep
    theirs, and the API blueprint answers its own errors from the catalogue."""

    DEFAULT_ERROR_RESPONSE_NAME = None  # the endpoints document the catalogue's errors themselves
    ERROR_SCHEMA = ApiErrorSchema

    def _register_error_handlers(self):
        return None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def init_api(app: Flask) -> None:
    from app.api.views import blp

    app.config.setdefault("API_TITLE", "Doorstep sync API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = SyncApi(app, spec_kwargs={"info": {"description": "Sync between the phone app and the server."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    csrf.exempt(blp)  # checked in authenticate() below for session requests only
    api.register_blueprint(blp)

    @login_manager.request_loader
    def load_bearer_user(req):
        token = bearer_token()
        if not token or not req.path.startswith(PREFIX):
            return None
        user = devices.authenticate(token)
        g.bearer_user = user
        return user


def authenticate():
    """Runs after the app's require_login, so someone is logged in by session or token."""
    token = bearer_token()
    if token is not None:
        user = g.get("bearer_user") or devices.authenticate(token)
        if user is None:
            raise ApiError("E1001")
        g.bearer_user = user
        g._login_user = user  # the token's user, even if a cookie named another (Flask-Login's slot)
    elif request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def register_errors(blp) -> None:
    """The blueprint answers its own errors from the catalogue (app/api/errors.py)."""
    @blp.errorhandler(ApiError)
    def api_error(e: ApiError):
        db.session.rollback()
        return answer(e.code, e.message, e.errors)

    @blp.errorhandler(DomainError)
    def domain_error(e: DomainError):
        db.session.rollback()
        return answer(*from_domain(e))

    @blp.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):
        return answer("E1004")

    @blp.errorhandler(413)
    def too_large(e: HTTPException):
        # Ahead of the app's own 413 page (handlers by status come before handlers by class).
        db.session.rollback()
        return answer("E2008")

    @blp.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        db.session.rollback()
        return http_answer(e)

    @blp.errorhandler(Exception)
    def server_error(e: Exception):
        db.session.rollback()
        current_app.logger.exception("sync API error")
        return answer("E9000")


def http_answer(e: HTTPException):
    """An HTTP error as the catalogue's answer: the blueprint's own, and the app's for a path
    under /api/v1 that matched no route (a number past 64 bits, app/routing.py)."""
    if e.code == 422:  # webargs: the request's shape
        messages = (getattr(e, "data", None) or {}).get("messages", {})
        return answer("E2001", None, from_marshmallow(messages))
    code = {400: "E2001", 401: "E1001", 403: "E1002", 404: "E1003", 405: "E1005", 413: "E2008",
            429: "E1006"}.get(e.code)
    if code is None:
        return answer("E9000")
    return answer(code, None if code != "E2001" else _("The request could not be read as JSON."))
