"""The sync API's endpoints: assignments, the form, submissions, device tokens."""
from __future__ import annotations

from typing import Any

from flask import g, request
from flask_babel import gettext as _
from flask_login import current_user

from app.api import authenticate, register_errors
from app.api.body import SyncBlueprint
from app.api.errors import ApiError
from app.api.schemas import (ApiErrorSchema, AssignmentsSchema, CursorSchema, DeviceIssueSchema, DeviceSchema,
                             FormSchema, IssuedDeviceSchema, SubmissionAnswerSchema, SubmissionSchema)
from app.domain import devices, sync, workflow
from app.extensions import db
from app.web import shows_personal_data, viewed
from app.models import DeviceToken, Household
from collection_forms import load_code_lists, load_form

blp = SyncBlueprint("api", __name__, url_prefix="/api/v1",
                    description="Sync between the phone app and the server")
blp.before_request(authenticate)
register_errors(blp)

SECURITY = [{"bearer": []}, {"session": []}]


def _errors(*statuses: int):
    """Document the error answers of an endpoint (always the catalogue's shape)."""
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=ApiErrorSchema, description="error (see the catalogue)")(view)
        return view
    return decorate


# ------------------------------------------------------------------ downloads


@blp.route("/assignments", methods=["GET"])
@blp.arguments(CursorSchema, location="query")
@blp.response(200, AssignmentsSchema)
@_errors(401, 422)
@blp.doc(security=SECURITY)
@shows_personal_data("household_list")
def assignments(args: dict[str, Any]):
    """The households of my units changed since the cursor (all without one)."""
    result = sync.assignments(current_user, args.get("cursor"))
    viewed(count=len(result.households), persons=sum(h.member_count or 0 for h in result.households),
           cursor=args.get("cursor"))
    return {"cursor": result.cursor, "form_version": sync.form_version(),
            "code_tables_version": sync.code_tables_version(),
            "units": [{"id": u.id, "code": u.code, "name": u.name, "level": u.level, "parent_id": u.parent_id}
                      for u in result.units],
            "households": [_household(h, result.return_reasons.get(h.id)) for h in result.households],
            "removed": [str(i) for i in result.removed]}


def _household(h: Household, returned) -> dict[str, Any]:
    reason = None
    if returned is not None:
        labels = [workflow.reason_label(c) for c in returned.reason_codes or []]
        reason = "；".join(labels + ([returned.reason_text] if returned.reason_text else []))
    return {"id": str(h.id), "unit_id": h.group_id or h.village_id, "village_code": h.village.code,
            "card_no": h.card_no, "state": h.state, "version": h.current_number,
            "data": h.current_version.data if h.current_version else {},
            "head_name": h.head_name, "member_count": h.member_count, "updated_at": h.updated_at,
            "return_reason": reason}


@blp.route("/form", methods=["GET"])
@blp.response(200, FormSchema)
@_errors(401)
@blp.doc(security=SECURITY)
def form():
    """The household form definition and the code tables (cacheable: ETag is the version)."""
    version = f"{sync.form_version()}-{sync.code_tables_version()}"
    if request.if_none_match.contains(version):
        return "", 304, {"ETag": f'"{version}"', "Cache-Control": "private, no-cache"}
    lists = load_code_lists()
    body = {"version": sync.form_version(), "code_tables_version": sync.code_tables_version(),
            "definition": load_form().as_json(),
            "code_tables": {name: [{"code": i.code, "zh": i.zh, "en": i.en, "parent": i.parent}
                                   for i in lists[name].codes.values()] for name in sorted(lists)}}
    return body, 200, {"ETag": f'"{version}"', "Cache-Control": "private, no-cache"}


# ------------------------------------------------------------------ submissions


@blp.route("/submissions", methods=["POST"])
@blp.arguments(SubmissionSchema)
@blp.response(201, SubmissionAnswerSchema, description="created: a new version, submitted with the signature")
@blp.alt_response(202, schema=SubmissionAnswerSchema,
                  description="conflict: kept for the village leader (the server changed since base_version)")
@_errors(401, 404, 409, 422)
@blp.doc(security=SECURITY)
def submit(args: dict[str, Any]):
    """Save and submit a household from the phone; retries with the same submission_id are safe."""
    outcome = sync.submit_from_phone(
        current_user, submission_id=args["submission_id"], household_id=args["household_id"],
        unit_id=args["unit_id"], base_version=args["base_version"], data=args["data"],
        strokes=args["signature"])
    if not outcome.replayed:
        db.session.commit()
    return outcome.answer, outcome.status


# ------------------------------------------------------------------ device tokens


@blp.route("/devices", methods=["POST"])
@blp.arguments(DeviceIssueSchema)
@blp.response(201, IssuedDeviceSchema)
@_errors(401, 403, 422)
@blp.doc(security=[{"session": []}])
def issue_device(args: dict[str, Any]):
    """A token for an installed app: only with the web login, shown once."""
    if g.get("bearer_user") is not None:
        raise ApiError("E1002", _("Device tokens are issued from the web login, not with another token."))
    device, token = devices.issue(current_user, args["name"])
    db.session.commit()
    return {**_device(device), "token": token}


@blp.route("/devices", methods=["GET"])
@blp.response(200, DeviceSchema(many=True))
@_errors(401)
@blp.doc(security=SECURITY)
@shows_personal_data("device_list")
def list_devices():
    """My devices, and those of the users I manage."""
    return [_device(d) for d in devices.list_devices(current_user)]


@blp.route("/devices/<int:device_id>/revoke", methods=["POST"])
@blp.response(200, DeviceSchema)
@_errors(401, 404)
@blp.doc(security=SECURITY)
def revoke_device(device_id: int):
    """Revoke a device at once (a lost phone): its next request is refused."""
    device = devices.revoke(current_user, device_id)
    db.session.commit()
    return _device(device)


def _device(d: DeviceToken) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "created_at": d.created_at, "last_used_at": d.last_used_at,
            "revoked_at": d.revoked_at, "active": d.active,
            "user": {"id": d.user.id, "username": d.user.username, "name": d.user.name}}
