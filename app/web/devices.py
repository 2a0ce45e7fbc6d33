"""Device tokens on the web (issue 6): a user's phones, and for administrators their users'.

Issuing shows the token once, to be typed or scanned into the phone app; revoking stops the
phone's sync with its next request (a lost phone). The rules are app.domain.devices'.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import devices
from app.domain.errors import DomainError, NotFound
from app.extensions import db
from app.models import User
from app.routing import db_int
from app.web import shows_personal_data

bp = Blueprint("devices", __name__, url_prefix="/devices")


def _me() -> User:
    return current_user._get_current_object()


def _render(issued: str | None = None, message: str | None = None, status: int = 200, name: str = ""):
    me = _me()
    user_id = request.args.get("user_id", type=db_int)
    listed = [d for d in devices.list_devices(me) if user_id is None or d.user_id == user_id]
    return render_template("devices/index.html", devices=listed, me=me, issued=issued, message=message,
                           name=name, user_id=user_id), status


@bp.route("")
@shows_personal_data("device_list")  # staff names
def index():
    return _render()


@bp.route("", methods=["POST"])
def issue():
    name = request.form.get("name", "")
    try:
        _device, token = devices.issue(_me(), name)
    except DomainError as e:
        db.session.rollback()
        return _render(message=e.message, status=e.status, name=name)
    db.session.commit()
    # Shown on this answer only; the database keeps just its hash. Not cached anywhere.
    response = render_template("devices/index.html", devices=devices.list_devices(_me()), me=_me(),
                               issued=token, message=None, name="", user_id=None)
    return response, 201, {"Cache-Control": "no-store"}


@bp.route("/<int:device_id>/revoke", methods=["POST"])
def revoke(device_id: int):
    try:
        device = devices.revoke(_me(), device_id)
    except NotFound:
        raise
    db.session.commit()
    flash(_("Device “%(name)s” revoked: it can no longer sync.", name=device.name), "success")
    return redirect(url_for("devices.index", user_id=request.args.get("user_id", type=db_int)))
