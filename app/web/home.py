"""The home page: what each of the user's roles does here."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.domain import scope
from app.models import Role

bp = Blueprint("home", __name__)

# What each role will do; entries become links as the features land.
ROLE_TASKS = {
    Role.collector: [_l("Scan a household card or search a household"),
                     _l("Fill in or correct the household form, add births, deaths and moves"),
                     _l("Sign and submit; see returned households first")],
    Role.village_leader: [_l("Check the village's submitted households"),
                          _l("Confirm with a signature or return with a reason")],
    Role.verifier: [_l("Verify confirmed households with a signature or return them"),
                    _l("Follow quality and progress of the township")],
    Role.clerk: [_l("Print books of one hundred household cards"), _l("Reprint changed cards"),
                 _l("Import lists from the police, hospitals and civil affairs")],
    Role.county_admin: [_l("Progress, quality and acceptance per township and village"),
                        _l("Manage users and their roles in the county"),
                        _l("Import lists from the police, hospitals and civil affairs")],
    Role.viewer: [_l("Look at statistics and progress")],
    Role.sysadmin: [_l("Manage users, roles and administrative units"), _l("Check the audit log")],
}


@bp.route("/")
def index():
    sections = []
    for a in scope.assignments(current_user):
        sections.append({"role": a.role, "unit": a.unit, "tasks": ROLE_TASKS[Role(a.role)]})
    return render_template("home.html", sections=sections,
                           can_manage_users=bool(scope.scope_paths(current_user, "user.manage")))
