"""View helpers shared by the blueprints that show households (collect, review, history,
conflicts): the template helpers and the household timeline. They live here, not in one
blueprint that the others import."""
from __future__ import annotations

from typing import Any

from app.domain import id_numbers, labels, registration, scorecard, settings, workflow
from app.models import Household, HouseholdVersion, WorkflowAction, WorkflowEvent
from app.web import label_language
from app.web.forms_data import (display_value, field_key, household_name, mask_id_number,
                                member_name)
from collection_forms import load_form
from collection_forms.loader import MEMBERS


def household_helpers() -> dict[str, Any]:
    """What the household templates use (collect, review, history, conflicts): code labels,
    ID checks, issue texts, masked numbers, names. Registered by each of those blueprints."""
    lang = label_language()
    form = load_form()

    def code_label(key: str, field: str, code: str | None) -> str:
        f = form.fields_of(key).get(field)
        if not code or f is None or f.code_list is None:
            return code or ""
        return f.code_list.label(code, lang)

    def id_check(person) -> id_numbers.IdCheck | None:
        return id_numbers.check(person, registration.today())

    def id_check_text(result: id_numbers.IdCheck) -> str:
        # The validator's fragments follow the field's label: "身份证号码" + "校验位错误，请核对号码".
        label = form.fields_of(MEMBERS)["id_number"].label.get(lang, "")
        return f"{label}{result.zh}" if lang == "zh" else f"{label} {result.en}"

    return {
        "lang": lang,
        "tr": lambda text: (text or {}).get(lang, ""),
        "id_check": id_check,
        "id_check_text": id_check_text,
        "issue_text": lambda issue: registration.issue_text(issue, lang),
        "code_label": code_label,
        "state_label": labels.state_label,
        "kind_label": labels.kind_label,
        "mask_id": mask_id_number,
        "address": address,
        "value_of": display_value,
        "household_name": household_name,
        "member_name": member_name,
        "field_key": field_key,
        # Issue 17: a household of a village accepted in this round, changed after the acceptance.
        "changed_after_acceptance": lambda h: scorecard.changed_after_acceptance(
            h, settings.current().acceptance_round),
    }


def address(h: Household) -> str:
    parts = [h.group.name if h.group else None, h.building, h.unit_no, h.room, h.door_no]
    return " · ".join(p for p in parts if p)


def timeline(versions: list[HouseholdVersion], events: list[WorkflowEvent]) -> list[dict[str, Any]]:
    """Versions saved and workflow events in one list, newest first. At the same instant a
    save comes before the event on it (so, newest first, the event is above)."""
    entries = ([{"kind": "version", "at": v.created_at, "order": 0, "item": v} for v in versions]
               + [{"kind": "event", "at": e.at, "order": 1, "item": e} for e in events])
    return sorted(entries, key=lambda x: (x["at"], x["order"], x["item"].id), reverse=True)


def last_return(h: Household, events: list[WorkflowEvent]) -> WorkflowEvent | None:
    """The return the household still answers (its reason goes on top): the latest event, when
    it is a return; a save after it keeps it on top, a new submission answers it
    (workflow.open_return, from the events already read)."""
    return events[-1] if events and events[-1].action == WorkflowAction.return_.value else None


def reasons_text(event: WorkflowEvent) -> str:
    """A return's reasons as one line: "Wrong ID number、Other: the text"."""
    text = "、".join(workflow.reason_label(c) for c in event.reason_codes or [])
    return f"{text}: {event.reason_text}" if event.reason_text else text


def timeline_helpers() -> dict[str, Any]:
    return {"reasons_text": reasons_text, "action_label": workflow.action_label,
            "wf_state_label": workflow.state_label}
