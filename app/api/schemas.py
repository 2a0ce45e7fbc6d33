"""marshmallow schemas of the sync API: they check the requests' shape and write the OpenAPI
document. What a household's form may hold is checked by collection_forms (field by field,
with messages in Chinese and English), not here."""
from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from collection_forms import load_form
from collection_forms.validate import too_many_members


class Strict(Schema):
    class Meta:
        unknown = RAISE


class ApiErrorItemSchema(Schema):
    path = fields.String(metadata={"example": "members[2].id_number"})
    field = fields.String(allow_none=True)
    member = fields.Integer(allow_none=True, metadata={"description": "0-based index in the members sent"})
    message = fields.String()


class ApiErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "E2001"})
    message = fields.String(required=True)
    errors = fields.List(fields.Nested(ApiErrorItemSchema))


class Roster(fields.List):
    """The member list. How many members a household may have is the form definition's rule
    (max_repeat, by household type), checked with the fields as on the web form; a list
    longer than any household may be is refused here before its members are read (a 4 MB
    body of empty members took seconds to load)."""

    def _deserialize(self, value: Any, attr, data, **kwargs):
        form = load_form()
        section = form.members_section
        most = max([section.max_repeat or 0] + [rule["max"] for rule in section.max_repeat_if])
        if isinstance(value, list) and len(value) > most:
            lang = "zh" if str(get_locale() or "zh").startswith("zh") else "en"
            raise ValidationError(too_many_members(form, len(value), most).message[lang])
        return super()._deserialize(value, attr, data, **kwargs)


class HouseholdDataSchema(Schema):
    """The whole form: {"household": {...}, "members": [{...}, ...]}; more keys are refused."""

    class Meta:
        unknown = RAISE

    household = fields.Dict(keys=fields.String(), required=True)
    # How many members a household may have is the form definition's rule (max_repeat), the
    # same for the web form: checked with the fields (collection_forms.validate).
    members = Roster(fields.Dict(keys=fields.String()), required=True)


class SubmissionSchema(Strict):
    submission_id = fields.UUID(required=True, metadata={"description": "made on the phone, one per submit"})
    household_id = fields.UUID(required=True, metadata={"description": "made on the phone for a new household"})
    unit_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                             validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "village or group; required for a new household"})
    base_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=2**31 - 1),
                                  metadata={"description": "the version the edit started from; 0 for new"})
    data = fields.Nested(HouseholdDataSchema, required=True)
    signature = fields.Raw(required=True, metadata={
        "description": "strokes as drawn: [[[x, y], [x, y], ...], ...] in a 1000 × 400 box",
        "type": "array", "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                                               "minItems": 2, "maxItems": 2}}})


class SubmissionAnswerSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["created", "conflict"]})
    household_id = fields.String(required=True)
    version = fields.Integer(metadata={"description": "created: the new version"})
    state = fields.String(metadata={"description": "created: the workflow state it entered"})
    card_no = fields.String()
    conflict_id = fields.Integer(metadata={"description": "conflict: kept for the village leader"})
    server_version = fields.Integer(metadata={"description": "conflict: the server's current version"})


class CursorSchema(Strict):
    cursor = fields.String(load_default=None, validate=validate.Length(max=20))


class UnitSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


class HouseholdSchema(Schema):
    id = fields.String()
    unit_id = fields.Integer()
    village_code = fields.String()
    card_no = fields.String()
    state = fields.String()
    version = fields.Integer()
    data = fields.Dict()
    head_name = fields.String(allow_none=True)
    member_count = fields.Integer()
    updated_at = fields.DateTime()
    return_reason = fields.String(allow_none=True)


class AssignmentsSchema(Schema):
    cursor = fields.String(required=True)
    form_version = fields.String(required=True)
    code_tables_version = fields.String(required=True)
    units = fields.List(fields.Nested(UnitSchema))
    households = fields.List(fields.Nested(HouseholdSchema))
    removed = fields.List(fields.String())


class FormSchema(Schema):
    version = fields.String(required=True)
    code_tables_version = fields.String(required=True)
    definition = fields.Dict(required=True)
    code_tables = fields.Dict(required=True)


class DeviceIssueSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))


class DeviceUserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()


class DeviceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    user = fields.Nested(DeviceUserSchema)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()


class IssuedDeviceSchema(DeviceSchema):
    token = fields.String(metadata={"description": "shown once: keep it on the phone"})
