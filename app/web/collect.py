"""The collector's screens (phone first): households of my villages, one household, the form.

The form is rendered on the server from the form definition, so it works as a plain HTML
form; app/static/collect.js turns it into one section at a time with live relevance, code
pickers and ID number checks. Views parse the fields, call one function of
app.domain.registration, commit and redirect (PRG). A refusal that concerns what was typed
(a newer version saved meanwhile, a member left out) shows the form again with everything
the collector typed and the message; nothing typed is lost.

Issue 4 adds here: "sign and submit" on the household page (the pad of static/signature.js),
returned households first on the list with their latest reason, and the household timeline
(versions, events, signatures, reasons), which the review pages show as well.
"""
from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_babel import gettext as _
from flask_login import current_user
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from app.domain import labels, prefill, quality_runs, registration, workflow
from app.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.extensions import db, reads_first
from app.models import (AdminUnit, Household, HouseholdState, UnitLevel, User,
                        WorkflowAction)
from app.routing import db_int
from app.web import label_language, shows_personal_data, viewed
from app.web.household_views import (household_helpers, last_return, reasons_text, timeline,
                                     timeline_helpers)
from app.web.forms_data import (GENERAL, display_value, field_key, issues_by_field,
                                parse_form)
from collection_forms import FormDefinition, load_form
from collection_forms.loader import HOUSEHOLD, MEMBERS, Field, Section

bp = Blueprint("collect", __name__, url_prefix="/collect")
bp.context_processor(household_helpers)

# The states offered by the list's filter, with their words (app.domain.labels).
STATE_LABELS = {s.value: label for s, label in labels.HOUSEHOLD_STATES.items()}
# Code lists longer than this get a text filter above their select (ethnicity, relationship, education).
LONG_LIST = 12


def _me() -> User:
    return current_user._get_current_object()


def _form() -> FormDefinition:
    return load_form()


@lru_cache(maxsize=4)
def _definition_json(name: str, version: int) -> Markup:
    """The definition for collect.js, serialised once per process (it does not change while running)."""
    return htmlsafe_json_dumps(load_form(name).as_json())  # Markup, with <, >, & and ' escaped


# ------------------------------------------------------------------ home: my units, my households

@bp.route("/")
@shows_personal_data("household_list")
def index():
    me = _me()
    q = request.args.get("q", "").strip()
    state = request.args.get("state", "")
    state = state if state in STATE_LABELS else ""
    unit_id = request.args.get("unit_id", type=db_int)
    result = registration.search_households(me, q=q, unit_id=unit_id, state=state or None,
                                            page=request.args.get("page", 1, type=db_int))
    units = registration.edit_units(me)
    # Returned households come first, with their latest reason (only collectors fix them).
    returned = workflow.returned_for_collector(me) if units else []
    # Pre-filled households the village leader gave to this collector (issue 16).
    assigned = prefill.assigned_to_verify(me) if units else []
    viewed(count=result.total, page=result.page, q=q, state=state, unit_id=unit_id, returned=len(returned),
           assigned=len(assigned))
    return render_template("collect/index.html", units=units, result=result, q=q, returned=returned,
                           assigned=assigned,
                           state=state, unit_id=unit_id, states=STATE_LABELS, reasons_text=reasons_text,
                           new_url=new_household_url(units))


# ------------------------------------------------------------------ one household

@bp.route("/households/<uuid:household_id>")
@shows_personal_data("household", "household_id")
def household(household_id: uuid.UUID):
    return _render_household(_me(), household_id)


def _render_household(me: User, household_id: uuid.UUID, *, message: str | None = None,
                      pad_error: str | None = None, status: int = 200):
    h = registration.get_household(me, household_id)
    viewed(unit_path=h.unit_path)
    issues = h.current_version.issues if h.current_version else []
    versions = registration.history(me, household_id)
    events = workflow.history(me, household_id)
    return render_template("collect/household.html", h=h, issues=issues,
                           errors=sum(1 for i in issues if i.get("level") == "error"),
                           versions=versions, can_edit=registration.can_edit(me, h),
                           actions=[a.value for a in workflow.available_actions(me, h)],
                           timeline=timeline(versions, events), last_return=last_return(h, events),
                           notices=prefill.open_notices(h), notice_lines=notice_lines,
                           quality_findings=quality_runs.beyond_save(h, issues),
                           check_submission_id=uuid.uuid4(),
                           message=message, pad_error=pad_error, **timeline_helpers()), status


def notice_lines(notice) -> list[str]:
    """A newer register's differences from the household, as sentences in the user's language."""
    form, lang = _form(), label_language()
    lines = []
    for d in notice.differences:
        name = d.get("member") or ""
        if d.get("change") == "added":
            lines.append(_("%(name)s: in the register, not in this household.", name=name))
            continue
        if d.get("change") == "missing":
            lines.append(_("%(name)s: in this household, not in the register.", name=name))
            continue
        key = MEMBERS if d.get("member") is not None else HOUSEHOLD
        f = form.fields_of(key).get(d.get("field"))
        label = f.label.get(lang, d.get("field")) if f is not None else d.get("field")

        def shown(value, f=f):
            if value in (None, ""):
                return _("(empty)")
            return f.code_list.label(value, lang) if f is not None and f.code_list is not None else str(value)

        values = {"field": label, "was": shown(d.get("was")), "now": shown(d.get("now"))}
        lines.append(_("%(name)s, %(field)s: here “%(was)s”, in the register “%(now)s”.", name=name, **values)
                     if name else _("%(field)s: here “%(was)s”, in the register “%(now)s”.", **values))
    return lines


@bp.route("/households/<uuid:household_id>/checked", methods=["POST"])
@shows_personal_data("household", "household_id")  # a refusal shows the page again
def checked(household_id: uuid.UUID):
    """"核对无误": a pre-filled household found at the door as the register has it."""
    me = _me()
    try:
        done = prefill.checked_unchanged(me, household_id, base_number=request.form.get("base_number", -1, type=int),
                                         submission_id=_submission_id())
    except NotFound:
        raise
    except DomainError as e:
        db.session.rollback()
        return _render_household(me, household_id, message=e.message, status=e.status)
    card = done.household.card_no
    db.session.commit()
    flash(_("Card %(card)s was already checked at the door.", card=card) if done.repeated
          else _("Card %(card)s checked at the door: it counts as collected now.", card=card))
    return redirect(url_for(".household", household_id=household_id))


@bp.route("/households/<uuid:household_id>/notices/<int:notice_id>/resolve", methods=["POST"])
def resolve_notice(household_id: uuid.UUID, notice_id: int):
    me = _me()
    notice = prefill.resolve_notice(me, notice_id, household_id=household_id)
    db.session.commit()
    flash(_("Notice of card %(card)s marked as dealt with.", card=notice.household.card_no))
    return redirect(url_for(".household", household_id=household_id))


@bp.route("/households/<uuid:household_id>/submit", methods=["POST"])
@shows_personal_data("household", "household_id")  # a refusal shows the page again
def submit(household_id: uuid.UUID):
    """Sign and submit the current version (the collector's signature)."""
    me = _me()
    try:
        done = workflow.act(me, household_id, WorkflowAction.submit,
                            version_number=request.form.get("version_number", -1, type=int),
                            strokes=request.form.get("strokes"))
    except NotFound:
        raise  # outside the user's area: the page does not exist for them
    except DomainError as e:
        db.session.rollback()
        return _render_household(me, household_id, message=e.message, status=e.status,
                                 pad_error=e.message if e.field == "signature" else None)
    # A double tap: the first tap's submission stands, and the second is told so as a success.
    message = done.message or _("Card %(card)s signed and submitted to the village leader.",
                                card=done.event.household.card_no)
    db.session.commit()
    flash(message)
    return redirect(url_for(".household", household_id=household_id))


# ------------------------------------------------------------------ the form

def _submission_id() -> uuid.UUID | None:
    try:
        return uuid.UUID(request.form.get("submission_id", ""))
    except ValueError:
        return None


def _group_choices(units: list[AdminUnit], village: AdminUnit, current: AdminUnit | None) -> list[AdminUnit]:
    """The groups of the village the collector may register in (and the household's own group)."""
    groups = [u for u in units if u.level == UnitLevel.group.value and u.parent_id == village.id]
    if current is not None and current not in groups:
        groups.insert(0, current)
    return groups


def _chunks(section: Section) -> list[tuple[Any, list[Field]]]:
    """A section's fields in order, consecutive fields of one group together: [(group|None, fields)]."""
    groups = {g.name: g for g in section.groups}
    out: list[tuple[Any, list[Field]]] = []
    for f in section.fields:
        group = groups.get(f.group) if f.group else None
        if out and out[-1][0] is group:
            out[-1][1].append(f)
        else:
            out.append((group, [f]))
    return out


def _i18n() -> dict[str, str]:
    """The texts collect.js shows, translated here; {name} marks where the script puts a value."""
    return {
        "member": _("Member %(n)s", n="{n}"),
        "back": _("Back"), "next": _("Next"), "save": _("Save draft"),
        "summary": _("Check and save"), "add_member": _("Add a member"),
        "remove_card": _("Remove this card"), "has_errors": _("has errors"),
        "filter": _("Type to filter the list"), "no_match": _("Nothing matches; clear the filter."),
        "matches": _("%(n)s choices", n="{n}"),
        "choose": _("Choose"), "none": _("None"),
        "edited": _("Changed: checked again when you save."),
        "filled": _("Filled in from the ID number: %(fields)s", fields="{fields}"),
        "id_length": _("%(label)s must have 18 characters, not %(n)s", label="{label}", n="{n}"),
        "id_old": _("%(label)s is an old 15-digit number; enter the 18-character number", label="{label}"),
        "id_format": _("%(label)s must be 17 digits followed by a digit or X", label="{label}"),
        "id_checksum": _("%(label)s has a wrong check digit; check the number", label="{label}"),
        "id_date": _("%(label)s contains a birth date that does not exist (%(date)s)", label="{label}",
                     date="{date}"),
        "id_future": _("%(label)s contains a birth date in the future (%(date)s)", label="{label}",
                       date="{date}"),
        "id_early": _("%(label)s contains a birth date before 1900 (%(date)s)", label="{label}",
                      date="{date}"),
        "id_birth_mismatch": _("%(label)s does not match the date of birth (the number says %(number)s, "
                               "the form says %(form)s)", label="{label}", number="{number}", form="{form}"),
        "id_sex_mismatch": _("%(label)s does not match the sex (the number says %(number)s, the form says "
                             "%(form)s)", label="{label}", number="{number}", form="{form}"),
        "leave": _("You have changes that are not saved."),
        "too_long": _("%(label)s is longer than %(limit)s characters (%(n)s)", label="{label}", limit="{limit}",
                      n="{n}"),
        "bad_chars": _("%(label)s contains control or invisible characters that are not allowed (%(chars)s); "
                       "delete them and type it again", label="{label}", chars="{chars}"),
        "too_many": _("%(label)s: %(n)s, more than the limit of %(limit)s", label="{label}", n="{n}",
                      limit="{limit}"),
    }


def _render_form(*, h: Household | None, unit: AdminUnit, data: dict[str, Any], issues: list[dict],
                 base_number: int | None, status: int = 200, message: str | None = None,
                 message_field: str | None = None, add_card: bool = False):
    """The household form. `unit` is where a new household goes (its village, or a group);
    for an existing household, its village. `message` is a refusal shown above the form."""
    me = _me()
    form = _form()
    village = unit if unit.level == UnitLevel.village.value else unit.parent
    units = registration.edit_units(me)
    members = [dict(m) if isinstance(m, dict) else {} for m in data.get(MEMBERS) or []]
    # Every card carries a person_id from the start, so that a spouse can be chosen among
    # members not saved yet; the domain keeps these ids for life.
    for m in members:
        if not _is_uuid(display_value(m, "person_id")):  # missing, or a changed one refused by the save
            m["person_id"] = str(uuid.uuid4())
    open_card = None
    if add_card:  # "add member": one more empty card, opened first
        members.append({"person_id": str(uuid.uuid4())})
        open_card = len(members) - 1
    data = {HOUSEHOLD: dict(data.get(HOUSEHOLD) or {}), MEMBERS: members}
    grouped = issues_by_field(issues)
    if message and message_field and field_key(message_field) != GENERAL:
        # Also next to the field it is about (it stays above the form too).
        grouped.setdefault(field_key(message_field), []).insert(0, {"level": "error", "message": {
            "zh": message, "en": message}})
    saved_ids = {str(p.id) for p in h.persons} if h is not None else set()
    action = (url_for(".edit", household_id=h.id) if h is not None
              else url_for(".new_household", unit_id=unit.id))
    return render_template(
        "collect/form.html", h=h, unit=unit, village=village, data=data, form_def=form,
        open_return=workflow.open_return(h) if h is not None else None, reasons_text=reasons_text,
        sections=form.sections, chunks={s.name: _chunks(s) for s in form.sections},
        groups=_group_choices(units, village, h.group if h is not None else None),
        issues=grouped, all_issues=issues, saved_ids=saved_ids,
        submission_id=uuid.uuid4(), base_number=base_number, action=action, message=message,
        open_card=open_card, long_list=LONG_LIST, today=registration.today().isoformat(),
        definition_json=_definition_json(form.name, form.version), i18n=_i18n(),
    ), status


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _saved_message(result: registration.SaveResult, was: str | None = None) -> tuple[str, str]:
    """The flash after a save, worked out before the commit (afterwards the rows are
    expired and reading the card number would cost queries). `was`: the household's state
    before the save; a save makes a draft, and a household that was returned (or further on)
    is told so, with what is next: a save alone sends nothing to the village leader."""
    if not result.created:
        return _("This save had already arrived; it was kept once."), "message"
    errors = sum(1 for i in result.issues if i.get("level") == "error")
    warnings = sum(1 for i in result.issues if i.get("level") == "warning")
    card = result.household.card_no
    moved = was is not None and was != HouseholdState.draft.value
    if errors:
        saved = ngettext("Card %(card)s saved as a draft; %(num)d error to fix.",
                         "Card %(card)s saved as a draft; %(num)d errors to fix.", errors, card=card)
        nxt = (_("It was “%(state)s” and is now a draft: fix the errors, then sign and submit it again.",
                 state=workflow.state_label(was)) if moved else None)
        return _sentences(saved, nxt), "warning"
    if warnings:
        saved = ngettext("Card %(card)s saved, complete; %(num)d warning to look at.",
                         "Card %(card)s saved, complete; %(num)d warnings to look at.", warnings, card=card)
    else:
        saved = _("Card %(card)s saved, complete.", card=card)
    if moved:
        return _sentences(saved, _("It was “%(state)s” and is now a draft: it still has to be signed and "
                                   "submitted.", state=workflow.state_label(was))), "warning"
    return _sentences(saved, _("It still has to be signed and submitted.")), "message"


def _sentences(*parts: str | None) -> str:
    # Chinese sentences end with "。" and follow each other without a space.
    return ("" if label_language() == "zh" else " ").join(p for p in parts if p)


def _commit_saved(result: registration.SaveResult, was: str | None = None):
    message, category = _saved_message(result, was)
    household_id = result.household.id
    db.session.commit()
    flash(message, category)
    return redirect(url_for(".household", household_id=household_id))


def _only_unit(units: list[AdminUnit]) -> AdminUnit | None:
    """The unit a new household goes to when there is no choice: the one village (its groups
    are chosen in the form), or the one unit. None: the collector chooses."""
    villages = [u for u in units if u.level == UnitLevel.village.value]
    only = villages if villages else units
    return only[0] if len(only) == 1 else None


def new_household_url(units: list[AdminUnit]) -> str:
    """Where "+ New household" goes: straight to the form when there is no choice, else to the
    chooser. Straight, not through the redirect: offline, the service worker has the form of
    each unit and the chooser, never a redirect (static/pwa/sw.js)."""
    only = _only_unit(units)
    return url_for("collect.new_household", unit_id=only.id if only else None)


def _refusal_issues(e: DomainError) -> dict[str, Any]:
    """A refused form (registration.InvalidForm) shows each of its issues next to its field;
    another refusal, its message next to the one field it names."""
    if isinstance(e, registration.InvalidForm):
        return {"issues": e.issues}
    return {"issues": [], "message_field": e.field}


def _wants_new_card() -> bool:
    return request.form.get("action") == "add_member"


@bp.route("/households/new", methods=["GET", "POST"])
def new_household():
    me = _me()
    unit_id = request.args.get("unit_id", type=db_int)
    if request.method == "POST" and unit_id is not None and not _wants_new_card():
        # The save itself: the domain checks the unit and the scope, so the list of the
        # user's units is only read again if the form has to be shown again.
        data = parse_form(request.form, _form())
        try:
            result = registration.new_household(me, unit_id=unit_id, data=data, submission_id=_submission_id())
        except NotFound:
            if not registration.edit_units(me):
                raise Forbidden(_("Only collectors register households.")) from None
            raise
        except (Invalid, Conflict) as e:
            db.session.rollback()
            unit = next((u for u in registration.edit_units(me) if u.id == unit_id), None)
            if unit is None:
                raise NotFound(_("You may not register households in this unit.")) from e
            return _render_form(h=None, unit=unit, data=data, base_number=None, status=e.status,
                                message=e.message, **_refusal_issues(e))
        return _commit_saved(result)
    units = registration.edit_units(me)
    if not units:
        raise Forbidden(_("Only collectors register households."))
    if unit_id is None:
        only = _only_unit(units)
        if only is not None:
            return redirect(url_for(".new_household", unit_id=only.id))
        return render_template("collect/choose_unit.html", units=units)
    unit = next((u for u in units if u.id == unit_id), None)
    if unit is None:
        raise NotFound(_("You may not register households in this unit."))

    if request.method == "GET":
        household = {"group_code": unit.code} if unit.level == UnitLevel.group.value else {}
        return _render_form(h=None, unit=unit, data={HOUSEHOLD: household, MEMBERS: [{}]}, issues=[],
                            base_number=None)
    if _wants_new_card():  # the "add member" button without JavaScript: nothing is saved
        data = parse_form(request.form, _form(), keep_blank=True)
        return _render_form(h=None, unit=unit, data=data, issues=[], base_number=None, add_card=True)
    return _render_form(h=None, unit=unit, data={HOUSEHOLD: {}, MEMBERS: [{}]}, issues=[], base_number=None)


@bp.route("/households/<uuid:household_id>/edit", methods=["GET", "POST"])
@shows_personal_data("household", "household_id")
def edit(household_id: uuid.UUID):
    me = _me()
    # Outside the collector's area: 404; a village leader who may only look: 403. Read without
    # the write lock (SQLite): the save checks the form before it takes that (issue 15).
    with reads_first():
        h = registration.get_household(me, household_id, "household.edit")
        known = [str(p.id) for p in h.persons]
    if request.method == "GET":
        version = h.current_version
        data = version.data if version else {HOUSEHOLD: {}, MEMBERS: []}
        return _render_form(h=h, unit=h.village, data=data, issues=version.issues if version else [],
                            base_number=h.current_number,
                            add_card=bool(request.args.get("add_member")))
    base = request.form.get("base_number", type=int)
    if _wants_new_card():
        data = parse_form(request.form, _form(), known_person_ids=known, keep_blank=True)
        return _render_form(h=h, unit=h.village, data=data, issues=[], base_number=base, add_card=True)
    data = parse_form(request.form, _form(), known_person_ids=known)
    was = h.state  # the save makes a draft; the message says so
    try:
        # No base number (a form from elsewhere): -1 is behind every version, so it is refused.
        result = registration.save_household(me, h.id, data=data, base_number=-1 if base is None else base,
                                             submission_id=_submission_id())
    except Conflict as e:
        db.session.rollback()
        h = registration.get_household(me, household_id, "household.edit")
        # The typed data is shown again on top of the newer version's number: saving it now
        # is a deliberate choice made after reading the message, never a silent overwrite.
        message = e.message + " " + _("Saving again makes what you see below the newest version.")
        return _render_form(h=h, unit=h.village, data=data, issues=[], base_number=h.current_number,
                            status=e.status, message=message)
    except Invalid as e:
        db.session.rollback()
        h = registration.get_household(me, household_id, "household.edit")
        return _render_form(h=h, unit=h.village, data=data, base_number=base, status=e.status,
                            message=e.message, **_refusal_issues(e))
    return _commit_saved(result, was)

