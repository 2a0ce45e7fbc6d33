"""The words every page uses for the codes of the registry's enums: kinds of version (a save,
a life event), workflow states and workflow actions. One place, so that a page cannot show a
raw code ("birth") or a word another page says differently; tests/test_history.py checks that
every value of the enums has one.

The labels are lazy (translated when shown, in the reader's language); the functions return
text and give back an unknown code as it is rather than failing a page on old data.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.models import EVENT_KINDS, HouseholdState, VersionKind, WorkflowAction

VERSION_KINDS = {
    VersionKind.create: _l("New household"),
    VersionKind.edit: _l("Edit"),
    VersionKind.birth: _l("Birth"),
    VersionKind.death: _l("Death"),
    VersionKind.move_out: _l("Moved out"),
    VersionKind.move_in: _l("Moved in"),
    VersionKind.marriage: _l("Marriage"),
    VersionKind.divorce: _l("Divorce"),
    VersionKind.split: _l("Household split"),
    VersionKind.merge: _l("Households merged"),
    VersionKind.transfer: _l("Household moved to another village"),
    VersionKind.head_change: _l("Change of head"),
}
# The life events by their stored value (the events' forms, their titles and messages).
EVENT_LABELS = {k.value: VERSION_KINDS[k] for k in VersionKind if k in EVENT_KINDS}

HOUSEHOLD_STATES = {
    HouseholdState.draft: _l("Draft"),
    HouseholdState.submitted: _l("Submitted"),
    HouseholdState.confirmed: _l("Confirmed"),
    HouseholdState.verified: _l("Verified"),
    HouseholdState.returned: _l("Returned"),
}

WORKFLOW_ACTIONS = {
    WorkflowAction.submit: _l("Submit"),
    WorkflowAction.confirm: _l("Confirm"),
    WorkflowAction.verify: _l("Verify"),
    WorkflowAction.return_: _l("Return"),
}


def kind_label(kind: str | VersionKind) -> str:
    try:
        return str(VERSION_KINDS[VersionKind(kind)])
    except ValueError:
        return str(kind)


def state_label(state: str | HouseholdState) -> str:
    try:
        return str(HOUSEHOLD_STATES[HouseholdState(state)])
    except ValueError:
        return str(state)


def action_label(action: str | WorkflowAction) -> str:
    try:
        return str(WORKFLOW_ACTIONS[WorkflowAction(action)])
    except ValueError:
        return str(action)
