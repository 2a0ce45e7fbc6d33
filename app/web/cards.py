"""The household card's QR code (DESIGN.md §6) and the "scan card" page.

GET /c/<code> is what a printed card's QR code opens, from any phone's camera app. It is
public (anyone may hold a card); a signed-in user's scan is audited (so it writes on GET),
anonymous scans are throttled per address and counted per day (app.access_log). A signed-in user whose
area holds the household lands on its page; anyone else learns only "valid card of <village>,
number <card no>" or "not a valid card". The old card of a household that moved to another
village says so, where it went and its new card number, to a user of either place.

GET /c/scan is the collector's scanner: the camera where the browser reads QR codes
(static/scan.js, BarcodeDetector), and always the card number typed in, which works in any
browser without JavaScript. Static paths win over converters in Werkzeug's router, and no
card code is "scan", so the two routes never collide.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import access_log
from app.domain import cards, registration
from app.domain.cards import ScanOutcome
from app.domain.errors import DomainError
from app.extensions import db
from app.models import AdminUnit
from app.web import client_address, public

bp = Blueprint("cards", __name__, url_prefix="/c")


def _household_url(household_id: uuid.UUID, can_edit: bool) -> str:
    """The household's collector page for its collectors, the review page for everyone else."""
    return url_for("collect.household" if can_edit else "review.household", household_id=household_id)


@bp.app_template_global()
def card_lookup_villages() -> list[AdminUnit] | None:
    """The villages the card-number form offers to the signed-in user; None when there are
    too many to list (the village code is typed instead)."""
    if not current_user.is_authenticated:
        return []
    villages = cards.lookup_villages(current_user._get_current_object())
    return None if len(villages) > cards.MAX_VILLAGE_CHOICES else villages


@bp.route("/scan")
def scan():
    """The scanner and the card-number form; with a card number, open that household."""
    if "card_no" not in request.args:
        return _scan_page()
    me = current_user._get_current_object()
    try:
        household = cards.find_by_card_no(me, request.args.get("village", ""), request.args["card_no"])
    except DomainError as e:
        db.session.rollback()
        return _scan_page(error=e), e.status
    return redirect(_household_url(household.id, registration.can_edit(me, household)))


def _scan_page(error: DomainError | None = None) -> str:
    base = current_app.config.get("BASE_URL", "").rstrip("/")
    local = url_for("cards.scan").rsplit("/", 1)[0] + "/"  # "/c/" below the app's script root
    return render_template(
        "cards/scan.html", find_error=error, local_prefix=local,
        # The QR holds BASE_URL/c/...; the same code under this page's own address counts too.
        prefixes=[p for p in (f"{base}/c/" if base else None, request.host_url.rstrip("/") + local) if p],
        i18n={
            "starting": _("Starting the camera…"),
            "aim": _("Hold the card's QR code in the frame."),
            "opening": _("Card found, opening…"),
            "not_card": _("This QR code is not a household card of this system."),
            "no_camera": _("The camera could not be started. Type the card number below."),
            "start": _("Start the camera"),
        })


def _signed_in() -> bool:
    # From the session cookie alone: asked when a transaction begins, before the user is loaded.
    return "_user_id" in session


@bp.route("/<path:code>")
@public
def card(code: str):
    """A card's QR code was scanned: open the household, or say what the card is."""
    actor = current_user._get_current_object() if current_user.is_authenticated else None
    address = client_address()
    access = access_log.current()
    if actor is None:
        # Anonymous scans are throttled per address and counted, never written one row each.
        if not access.card_scans.allow(address):
            access.count_scan(registration.today(), address, "throttled")
            abort(429)
        result = cards.scan(None, current_app.config["CARD_KEYS"], code, address)
        access.count_scan(registration.today(), address, result.outcome.value)
        db.session.rollback()  # nothing was written: end the read
    else:
        result = cards.scan(actor, current_app.config["CARD_KEYS"], code, address)
        db.session.commit()
    if result.outcome is ScanOutcome.opened:
        return redirect(_household_url(result.household_id, result.can_edit))
    if result.outcome is ScanOutcome.invalid:
        return render_template("cards/invalid.html"), 404
    if result.outcome is ScanOutcome.moved:
        # A page, not a redirect: whoever holds the card should learn that it is out of use.
        return render_template("cards/moved.html", card=result.card, village=result.village_name,
                               departure=result.departure,
                               household_url=_household_url(result.household_id, result.can_edit)
                               if result.household_id else None)
    return render_template("cards/valid.html", card=result.card,
                           village=result.village_name or result.card.village_code,
                           login_url=url_for("auth.login", next=url_for(".card", code=code)))


card.writes_on_get = _signed_in  # a signed-in user's scan is audited; an anonymous one writes nothing here
