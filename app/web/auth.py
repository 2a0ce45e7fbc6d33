"""Login, logout, language."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app import LOCALES
from app.domain import auth
from app.extensions import db
from app.web import client_address, public

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("home.index"))
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    try:
        user = auth.login(current_app.config, username, request.form.get("password", ""),
                          client_address(), request.headers.get("User-Agent", ""))
    except (auth.LoginRefused, auth.LoginThrottled) as e:
        db.session.commit()  # the failure and its audit entry are kept
        return render_template("auth/login.html", error=e.message, username=username,
                               next=request.form.get("next", "")), e.status
    db.session.commit()
    locale = session.get("locale")
    session.clear()  # a fresh session at login: nothing from before carries over
    if locale:
        session["locale"] = locale
    login_user(user)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    auth.logout(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@public
def set_language():
    locale = request.form.get("locale")
    if locale in LOCALES:
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
        session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))
