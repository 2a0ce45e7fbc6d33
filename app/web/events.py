"""Recording life events on the phone: one form per event kind, on the collector's household.

GET shows the form; POST parses it and calls one function of app.domain.events. A refusal
shows the form again with what was typed and the message next to the field it names. When
the head dies, moves away or leaves in a split, the first POST shows the proposed
relationships to the new head (collection_forms.head_change) for the collector to confirm
or correct; only the confirmed POST records the event.

Where someone moves to, or where a household is transferred, is picked from the unit tree:
the villages of the county in a list, the rest of the country by going down the tree
(static/unit_picker.js asks `unit_children` for one level at a time), or, without the
script, by typing the unit's code.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.domain import events, registration
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.units import unit_by_code
from app.extensions import db
from app.models import Household, User, VersionKind
from app.web import label_language, shows_personal_data, viewed
from collection_forms import load_form
from collection_forms.characters import code_points, refused_characters
from quality.household import HEAD

bp = Blueprint("events", __name__, url_prefix="/collect")

KINDS = ("birth", "death", "move_out", "move_in", "marriage", "divorce", "split", "merge", "transfer")
# Events of a member who leaves: if it is the head, the new head must be confirmed.
LEAVING = ("death", "move_out")


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def _transfer_mark() -> dict[str, Any]:
    """The household page marks a household whose transfer waits for the receiving village."""
    return {"pending_transfer": events.pending_transfer,
            # Transfers waiting for the leader: the queue, the home page and the header ask
            # (the header only for a village leader, so others pay no query).
            "transfers_waiting": lambda: events.transfers_to_decide_count(_me())}


@bp.route("/households/<uuid:household_id>/events/<kind>", methods=["GET", "POST"])
@shows_personal_data("household", "household_id")
def record(household_id: uuid.UUID, kind: str):
    if kind not in KINDS:
        abort(404)
    me = _me()
    h = registration.get_household(me, household_id, "household.edit")
    if request.method == "GET":
        return _render(h, kind, MultiDict({"base_number": str(h.current_number),
                                           "person_id": request.args.get("person_id", "")}))
    form = request.form
    try:
        _refuse_bad_text(form)
        proposals = _head_change_step(h, kind, form)
        if proposals is not None and not _confirmed(kind, form):
            return _render(h, kind, form, proposals=proposals)
        if kind == "merge" and not _confirmed(kind, form):  # first the household, then the relationships
            fresh = form.copy()  # another card than the one confirmed: its own base number
            fresh.pop("other_base_number", None)
            return _render(h, kind, fresh, joining=_joining(me, h, form))
        if kind == "transfer":
            return _transfer(me, h, form)
        result = _call(me, h, kind, form)
    except (Invalid, Conflict) as e:
        db.session.rollback()
        h = registration.get_household(me, household_id, "household.edit")
        joining = _joining(me, h, form) if kind == "merge" and _confirmed(kind, form) else None
        return _render(h, kind, form, error=e.message, error_field=e.field or "general", status=e.status,
                       joining=joining, proposals=_proposals_again(h, kind, form))
    card, replayed = result.household.card_no, not result.created
    db.session.commit()
    flash(_("This event had already arrived; it was kept once.") if replayed else
          _("%(event)s recorded on card %(card)s as a new draft.", event=events.EVENT_LABELS[kind],
            card=card))
    for issue in result.issues:  # a birth's warnings: recorded, and to be checked
        flash(events.issue_message(issue), "warning")
    return redirect(url_for("collect.household", household_id=household_id))


def _head_change_step(h: Household, kind: str, form) -> list[dict[str, Any]] | None:
    """The proposed relationships to the new head when the head leaves and the collector
    chose who the new head is; None when there is nothing to confirm. Each proposal shows
    the collector's choice when they confirmed these very proposals already (a refusal of
    something else shows the form again), else what collection_forms.head_change proposes."""
    members = h.current_version.data.get("members", [])
    if kind == "split":
        if not form.get("stay_head"):
            return None
        found = events.split_head_proposals(members, form.getlist("leaves"), form["stay_head"])
        if not found:
            return None
    else:
        if kind not in LEAVING or not form.get("new_head"):
            return None
        if kind == "move_out" and not form.get("hukou_moves"):
            return None
        leaving = next((m for m in members if str(m.get("person_id")) == form.get("person_id")), None)
        if leaving is None or leaving.get("relationship") != HEAD:
            return None
        found = events.head_proposals(members, form["person_id"], form["new_head"])
    rel = load_form().fields_of("members")["relationship"].code_list
    lang, prefix, confirmed = label_language(), _PREFIX.get(kind, "rel-"), _confirmed(kind, form)
    out = []
    for p in found:
        pid = str(members[p.index]["person_id"])
        out.append({"person_id": pid, "name": members[p.index].get("name") or "", "old": p.old,
                    "old_label": rel.label(p.old, lang), "new": p.new, "certain": p.certain,
                    "chosen": (form.get(prefix + pid) or p.new) if confirmed else p.new})
    return out


# The inputs of the relationships to the new head who stays: in a split the members who
# leave have rel-<person id> for their relationship to the new household's head.
_PREFIX = {"split": "stay-rel-"}


def _confirm_key(kind: str, form) -> str:
    """What the confirmed proposals were worked out for: who leaves and who becomes head (for
    a merge: the household that joins). A confirmation counts only for the same choice
    (changing the new head on the confirmation screen shows new proposals instead of applying
    the old ones to another head; another card shows that household's members)."""
    if kind == "split":
        return "/".join([form.get("stay_head", ""), *sorted(form.getlist("leaves"))])
    if kind == "merge":  # the relationships were given for the members of this card's household
        card = (form.get("other_card") or "").strip()
        return card.zfill(4) if card.isdigit() else card
    return "/".join([form.get("person_id", ""), form.get("new_head", "")])


def _confirmed(kind: str, form) -> bool:
    return bool(form.get("confirmed")) and form["confirmed"] == _confirm_key(kind, form)


def _proposals_again(h: Household, kind: str, form) -> list[dict[str, Any]] | None:
    """After a refusal of a confirmed form: the proposals again, with the collector's choices."""
    if not _confirmed(kind, form):
        return None
    try:
        return _head_change_step(h, kind, form)
    except Invalid:
        return None


def _date(form, name: str = "occurred_on") -> dt.date:
    try:
        return dt.date.fromisoformat(form.get(name, ""))
    except ValueError:
        raise Invalid(_("Give the date of the event."), field=name) from None


def _submission_id(form) -> uuid.UUID | None:
    try:
        return uuid.UUID(form.get("submission_id", ""))
    except ValueError:
        return None


def _relationships(form, prefix: str = "rel-") -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and v}


def _unit_code(form, name: str, field: str) -> str:
    """The unit code of a picker: chosen in the list (or down the tree, which puts it in the
    list), or typed (the form without its script)."""
    picked, typed = (form.get(name) or "").strip(), (form.get(f"{name}_typed") or "").strip()
    if picked and typed and picked != typed:
        raise Invalid(_("Choose a unit from the list or type its code, not both."), field=field)
    return typed or picked


# A life event's typed text (a name, a birth place, a cause, a reason) is held to the same
# rules as the form's fields (issue 15 items 6 and 8): no control or bidi-override
# characters, and a length limit; a reason may have line breaks.
EVENT_TEXT_MAX, EVENT_REASON_MAX = 200, 500


def _refuse_bad_text(form) -> None:
    for name, value in form.items(multi=True):
        if name == "csrf_token":
            continue
        multiline = name == "reason"
        chars = refused_characters(value, multiline=multiline)
        if chars:
            raise Invalid(_("This field has characters that are not allowed (%(chars)s); delete them and "
                            "type it again.", chars=code_points(chars)), field=name)
        limit = EVENT_REASON_MAX if multiline else EVENT_TEXT_MAX
        if len(value.strip()) > limit:
            raise Invalid(_("This field is longer than %(n)d characters.", n=limit), field=name)


def _call(me: User, h: Household, kind: str, form) -> events.EventResult:
    common = {"occurred_on": _date(form), "base_number": form.get("base_number", -1, type=int),
              "submission_id": _submission_id(form)}
    get = lambda name: (form.get(name) or "").strip()  # noqa: E731
    if kind == "birth":
        return events.birth(me, h.id, sex=get("sex"), name=get("name"), birth_place=get("birth_place"),
                            mother=get("mother") or None, father=get("father") or None,
                            mother_id_number=get("mother_id_number"),
                            father_id_number=get("father_id_number"),
                            relationship=get("relationship") or None, **common)
    if kind == "death":
        return events.death(me, h.id, person_id=get("person_id"), cause=get("cause"), source=get("source"),
                            new_head=get("new_head") or None, relationships=_relationships(form), **common)
    if kind == "move_out":
        destination = events.Destination(_unit_code(form, "destination_code", "destination"), get("destination"))
        return events.move_out(me, h.id, person_id=get("person_id"), reason=get("reason"), destination=destination,
                               hukou_moves=bool(form.get("hukou_moves")), new_head=get("new_head") or None,
                               relationships=_relationships(form), **common)
    if kind == "move_in":
        newcomer = {k: get(k) for k in ("name", "sex", "birth_date", "id_number") if get(k)}
        newcomer["marital_status"] = "10"
        from_system = form.get("source") == "system"
        return events.move_in(me, h.id, relationship=get("relationship"), reason=get("reason"),
                              id_number=get("id_number") if from_system else "",
                              newcomer=None if from_system else newcomer, origin=get("origin"), **common)
    if kind == "marriage":
        spouse = form.get("spouse_kind", "member")
        return events.marriage(me, h.id, person_id=get("person_id"),
                               spouse_member=get("spouse_member") if spouse == "member" else None,
                               spouse_id_number=get("spouse_id_number"), spouse_name=get("spouse_name"),
                               spouse_moves_in=spouse == "moves_in", relationship=get("relationship"),
                               **common)
    if kind == "split":
        return events.split(me, h.id, person_ids=form.getlist("leaves"), new_head=get("new_head"),
                            relationships=_relationships(form), stay_head=get("stay_head") or None,
                            stay_relationships=_relationships(form, _PREFIX["split"]),
                            address={"door_no": get("door_no")} if get("door_no") else None, **common)
    if kind == "merge":
        other = _other_household(me, h, form)
        return events.merge(me, h.id, other_household_id=other.id, relationships=_relationships(form),
                            other_base_number=form.get("other_base_number", -1, type=int), **common)
    return events.divorce(me, h.id, person_id=get("person_id"), **common)


def _other_household(me: User, h: Household, form) -> Household:
    return events.other_household_by_card(me, h, form.get("other_card") or "")


def _joining(me: User, h: Household, form) -> dict[str, Any]:
    other = _other_household(me, h, form)
    members = [m for m in other.current_version.data.get("members", [])
               if (m.get("status") or "active") == "active"]
    return {"household": other, "members": members}


def _transfer(me: User, h: Household, form):
    code = _unit_code(form, "to_unit_code", "to_unit")
    if not code:
        raise Invalid(_("Please choose the village to move to."), field="to_unit")
    unit = unit_by_code(code)
    if unit is None:
        raise Invalid(_("No administrative unit has the code %(code)s.", code=code), field="to_unit")
    events.request_transfer(me, h.id, to_unit_id=unit.id, occurred_on=_date(form),
                            reason=form.get("reason", ""))
    card = h.card_no
    db.session.commit()
    flash(_("Transfer of card %(card)s to %(unit)s asked; it waits for the receiving village.",
            card=card, unit=unit.name))
    return redirect(url_for("collect.household", household_id=h.id))


@bp.route("/units/children")
def unit_children():
    """The units directly under the unit ?code= (the top of the tree without it), for the
    unit picker: code, name, level and whether there are units under it, in code order."""
    try:
        unit, children = events.unit_children((request.args.get("code") or "").strip() or None)
    except NotFound as e:
        return jsonify(code="http.404", message=e.message), 404
    resp = jsonify(unit={"code": unit.code, "name": unit.name, "level": unit.level} if unit else None,
                   children=[{"code": c.code, "name": c.name, "level": c.level,
                              "has_children": c.has_children} for c in children])
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp


# ------------------------------------------------------------------ the receiving leader


@bp.route("/transfers")
@shows_personal_data("transfer_list")
def transfers():
    waiting = events.transfers_to_decide(_me())
    viewed(count=len(waiting))
    return render_template("events/transfers.html", transfers=waiting, error=None, error_id=None)


@bp.route("/transfers/<int:transfer_id>/decide", methods=["POST"])
def decide(transfer_id: int):
    me = _me()
    accept = request.form.get("decision") == "accept"
    try:
        _refuse_bad_text(request.form)
        transfer = events.decide_transfer(me, transfer_id, accept=accept,
                                          reason=request.form.get("reason", ""))
    except (Invalid, Conflict) as e:
        db.session.rollback()
        return render_template("events/transfers.html", transfers=events.transfers_to_decide(me),
                               error=e.message, error_id=transfer_id), e.status
    card = transfer.household.card_no
    db.session.commit()
    flash(_("Transfer accepted: the household has card %(card)s here.", card=card) if accept
          else _("Transfer refused; the household stays where it was."))
    return redirect(url_for(".transfers"))


def _render(h: Household, kind: str, form, *, proposals: list[dict[str, Any]] | None = None,
            joining: dict[str, Any] | None = None, error: str | None = None, error_field: str | None = None,
            status: int = 200):
    members = h.current_version.data.get("members", []) if h.current_version else []
    active = [m for m in members if (m.get("status") or "active") == "active"]
    fields = load_form().fields_of("members")
    lang = label_language()
    relationships = [(c, fields["relationship"].code_list.label(c, lang))
                     for c in fields["relationship"].codes if c != HEAD]
    return render_template(
        "events/form.html", h=h, kind=kind, title=events.EVENT_LABELS[kind], form=form, active=active,
        relationships=relationships, causes=events.DEATH_CAUSES, sources=events.DEATH_SOURCES,
        reasons=events.MOVE_REASONS, proposals=proposals, joining=joining, error=error,
        error_field=error_field, confirm_key=_confirm_key(kind, form),
        pending=events.pending_transfer(h.id), picker=_picker(h, kind, form),
        submission_id=form.get("submission_id") or uuid.uuid4(), today=registration.today().isoformat(),
        base_number=form.get("base_number") or h.current_number, VersionKind=VersionKind,
    ), status


def _picker(h: Household, kind: str, form) -> dict[str, Any] | None:
    """The unit picker of a move or a transfer: the county's villages by township, and the
    unit chosen farther away (named by its place in the tree) so that it stays chosen."""
    name = {"move_out": "destination_code", "transfer": "to_unit_code"}.get(kind)
    if name is None:
        return None
    villages = events.county_villages(h)
    known = {v.code for _township, vs in villages for v in vs}
    code = (form.get(name) or "").strip()
    chosen = None
    if code and code not in known:
        trail = events.unit_trail(code)
        chosen = {"code": code, "label": " › ".join(u.name for u in trail) if trail else code}
    # A transfer goes to a village or a group of another village; a move to any unit.
    levels = "village group" if kind == "transfer" else ""
    return {"name": name, "villages": villages, "chosen": chosen, "levels": levels,
            "skip": h.village.code if kind == "transfer" else ""}
