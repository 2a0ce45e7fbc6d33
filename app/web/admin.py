"""User administration (sysadmin, county_admin), each within their own area.

The rules (who may manage whom, which role at which level) live in app.domain.users;
these views parse the form, call one domain function, commit, and redirect (PRG) or
re-show the form with the field messages (422, nothing changed).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.domain import scope
from app.domain import users as domain
from app.domain.errors import DomainError
from app.extensions import db
from app.models import User
from app.routing import db_int
from app.web import shows_personal_data, viewed

bp = Blueprint("admin", __name__, url_prefix="/admin")

NEW_USER_FIELDS = ("username", "name", "phone", "locale", "role", "unit")


def _me() -> User:
    return current_user._get_current_object()


def _form_errors(e: DomainError) -> dict[str, str]:
    """The field messages of a refusal; a refusal that is not about a field goes on to the
    error page (403/404/409) through the app's DomainError handler."""
    errors = domain.field_errors(e)
    if not errors:
        raise e
    db.session.rollback()
    return errors


def _picker(endpoint: str, default_role: str = "", **url_args):
    """The unit drill-down from the query string (?role=&at=&find=); GET only, so nothing typed is lost."""
    return {
        "data": domain.unit_picker(_me(), request.args.get("role", default_role),
                                   request.args.get("at", type=db_int), request.args.get("find", "")),
        "endpoint": endpoint,
        "url_args": url_args,
    }


def _common() -> dict:
    me = _me()
    return {"grantable": domain.grantable_roles(me), "level_label": domain.level_label,
            "levels_text": domain.levels_text, "role_levels": domain.ROLE_LEVELS}


# ------------------------------------------------------------------ list

@bp.route("/users")
@shows_personal_data("user_list")  # staff names and phone numbers
def users():
    q = request.args.get("q", "").strip()
    result = domain.list_users(_me(), q=q, page=request.args.get("page", 1, type=db_int))
    viewed(count=result.total, q=q)
    return render_template("admin/users.html", result=result, q=q)


# ------------------------------------------------------------------ new user

def _render_new(form: dict[str, str], errors: dict[str, str], status: int):
    picker = _picker("admin.new_user", default_role=form.get("role", ""))
    chosen = domain.describe_unit_code(_me(), form.get("unit"))
    return render_template("admin/new_user.html", form=form, errors=errors, picker=picker,
                           chosen=chosen, **_common()), status


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    if request.method == "GET":
        form = {"locale": "zh_CN", "role": request.args.get("role", ""), "unit": request.args.get("unit", "")}
        return _render_new(form, {}, 200)
    form = {k: request.form.get(k, "") for k in NEW_USER_FIELDS}
    try:
        user = domain.add_user(_me(), password=request.form.get("password", ""), **form)
    except DomainError as e:
        return _render_new(form, _form_errors(e), e.status)
    db.session.commit()
    flash(_("User %(username)s was created.", username=user.username))
    return redirect(url_for("admin.user", user_id=user.id))


# ------------------------------------------------------------------ one user

def _render_user(target: User, grant_form: dict[str, str], errors: dict[str, str], status: int):
    me = _me()
    picker = _picker("admin.user", default_role=grant_form.get("role", ""), user_id=target.id)
    return render_template(
        "admin/user.html", target=target, is_me=target.id == me.id, grant_form=grant_form, errors=errors,
        picker=picker, chosen=domain.describe_unit_code(me, grant_form.get("unit")),
        # Offer only the buttons the rules allow; the domain refuses the rest anyway.
        can_revoke={a.id for a in target.roles if domain.revoke_refusal(me, target, a) is None},
        **_common()), status


@bp.route("/users/<int:user_id>")
@shows_personal_data("user", "user_id")
def user(user_id: int):
    target = domain.get_managed_user(_me(), user_id)
    grant_form = {"role": request.args.get("role", ""), "unit": request.args.get("unit", "")}
    return _render_user(target, grant_form, {}, 200)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
def grant(user_id: int):
    form = {"role": request.form.get("role", ""), "unit": request.form.get("unit", "")}
    try:
        assignment, created = domain.grant_role_by_code(_me(), user_id, form["role"], form["unit"])
    except DomainError as e:
        errors = _form_errors(e)
        return _render_user(domain.get_managed_user(_me(), user_id), form, errors, e.status)
    db.session.commit()
    label = scope.role_label(assignment.role)
    if created:
        flash(_("%(role)s for %(unit)s was given.", role=label, unit=assignment.unit.name))
    else:
        flash(_("The user already has the role %(role)s for %(unit)s.", role=label,
                unit=assignment.unit.name))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/roles/<int:assignment_id>/revoke", methods=["POST"])
def revoke(user_id: int, assignment_id: int):
    removed = domain.revoke_role(_me(), user_id, assignment_id)
    db.session.commit()
    flash(_("%(role)s for %(unit)s was taken away.", role=scope.role_label(removed.role),
            unit=removed.unit.name))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    try:
        ended = domain.reset_password(_me(), user_id, request.form.get("password", ""))
    except DomainError as e:
        errors = _form_errors(e)
        return _render_user(domain.get_managed_user(_me(), user_id), {}, errors, e.status)
    db.session.commit()
    flash(_("The password was changed. Sessions ended: %(n)d.", n=ended))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    change = domain.deactivate_user(_me(), user_id)
    db.session.commit()
    if change.changed:
        flash(_("%(name)s was deactivated. Sessions ended: %(n)d.",
                name=change.user.name, n=change.sessions_ended))
    else:
        flash(_("%(name)s was already inactive.", name=change.user.name))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
def reactivate(user_id: int):
    change = domain.reactivate_user(_me(), user_id)
    db.session.commit()
    if change.changed:
        flash(_("%(name)s can log in again.", name=change.user.name))
    else:
        flash(_("%(name)s was already active.", name=change.user.name))
    return redirect(url_for("admin.user", user_id=user_id))
