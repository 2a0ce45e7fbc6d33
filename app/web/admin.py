"""User administration (sysadmin, county_admin) — placeholder until the admin screens land."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
def users():
    from flask import abort
    abort(404)
